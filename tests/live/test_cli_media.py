"""`interviewday loadtest` and `interviewday bot` as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_loadtest_reports_what_the_bots_received() -> None:
    result = run("loadtest", "--rooms", "2", "--per-room", "2", "--seconds", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert any("bots in" in line for line in lines)  # progress
    summary = json.loads(lines[-1])
    assert summary["bots"] == 4
    assert summary["sources_received"] == summary["sources_expected"] == 4
    assert summary["video_fps_median"] > 10
    assert summary["join_ms_p95"] < 5000


def test_bot_with_a_bad_token_exits_with_a_message() -> None:
    result = run("bot", "--url", "http://127.0.0.1:9", "--token", "x", "--seconds", "1")
    assert result.returncode == 2
    assert result.stderr.startswith("interviewday: ")


def test_loadtest_refuses_nonsense() -> None:
    result = run("loadtest", "--rooms", "0", "--per-room", "2")
    assert result.returncode == 2 and "must be positive" in result.stderr
