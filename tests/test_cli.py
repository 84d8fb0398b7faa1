"""The `interviewday` command: migrate, demo (idempotent), create-user, bad configuration."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEWDAY_")}
    environment.update({"INTERVIEWDAY_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.slow
def test_demo_is_idempotent_and_prints_logins(tmp_path: Path) -> None:
    first = run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    assert "director@demo.test" in first.stdout and "demo-password" in first.stdout
    assert "interviewer8@demo.test" in first.stdout
    assert "/a/" in first.stdout  # the applicant's magic link
    # Today's day, starting in a few minutes, and how to see it move.
    assert "Today's demo day starts at" in first.stdout
    assert "interviewday demo --live" in first.stdout
    assert "/console" in first.stdout and "/live/sessions/" in first.stdout
    db = tmp_path / "var" / "interviewday.db"
    counts = {t: count(db, t) for t in ("staff", "applicants", "interview_sessions", "rooms")}
    assert counts == {"staff": 10, "applicants": 40, "interview_sessions": 3, "rooms": 12}
    second = run(tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    assert {t: count(db, t) for t in counts} == counts
    with sqlite3.connect(db) as conn:
        statuses = {row[0] for row in conn.execute("SELECT DISTINCT status FROM applicants")}
    assert len(statuses) >= 4


def test_create_user_and_refusals(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    args = (
        "create-user",
        "--program",
        "p1",
        "--email",
        "Ann@Example.org",
        "--name",
        "Ann",
        "--role",
        "director",
        "--password",
        "long-enough-1",
    )
    created = run(tmp_path, *args)
    assert created.returncode == 0, created.stderr
    assert "created director ann@example.org" in created.stdout
    again = run(tmp_path, *args)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    short = run(
        tmp_path,
        "create-user",
        "--program",
        "p1",
        "--email",
        "b@example.org",
        "--name",
        "B",
        "--role",
        "interviewer",
        "--password",
        "short",
    )
    assert short.returncode == 2 and "at least 8 characters" in short.stderr


def test_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", INTERVIEWDAY_PORT="eighty")
    assert result.returncode == 2
    assert result.stderr.strip() == "interviewday: INTERVIEWDAY_PORT: 'eighty' is not a number"


def test_demo_live_without_a_server_stops_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = run(tmp_path, "demo", "--live", "--url", url)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"interviewday: no interviewday server at {url}")
    assert "start it first" in lines[0]


@pytest.mark.slow
def test_demo_live_fills_the_day_on_a_running_server_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """For real: `serve`, then `demo --live` in a second process; the bots join, the day starts
    and the clock carries the bot applicants into their rooms; Ctrl-C ends it cleanly."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEWDAY_")}
    environment.update({"INTERVIEWDAY_VAR_DIR": str(tmp_path / "var"), "INTERVIEWDAY_PORT": port})
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "web.cli"]
    server = subprocess.Popen(
        [*command, "serve", "--migrate"],
        env=environment,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    live: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        live = subprocess.Popen(
            [*command, "demo", "--live"],
            env=environment,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(live.stdout.readline, "")))  # type: ignore[union-attr]
        reader.start()
        deadline = time.monotonic() + 90
        while sum("→ Room" in line for line in lines) < 3:
            assert live.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        assert "7 bots joined" in output and "Started the day now" in output
        assert "Ivan Rossi (applicant09@demo.test) is yours" in output
        live.send_signal(signal.SIGINT)
        assert live.wait(30) == 0, "".join(lines)
        reader.join(10)
        assert "The bots left." in "".join(lines)
        assert "Traceback" not in "".join(lines)
    finally:
        for process in (live, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
