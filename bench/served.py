"""A real `interviewday serve` process for the HTTP benchmarks (bench/api.py, bench/abuse.py).

The server runs as shipped, in a process of its own on a free loopback port, over a fresh
SQLite file or a scratch PostgreSQL database beside `DATABASE_URL`, seeded with the demo
program (`interviewday demo`): a director, a coordinator, eight interviewers, all with
`DEMO_PASSWORD`, forty applicants and two interview days.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "demo-password"
MANAGERS = ("director@demo.test", "coordinator@demo.test")


@dataclass(frozen=True)
class Server:
    base: str
    log: Path
    pid: int


@dataclass
class Tally:
    """Every attempt is counted; anything but the expected answer is an error."""

    attempts: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def record(self, status: int, started: float, expected: tuple[int, ...] = (200,)) -> None:
        self.attempts += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status not in expected:
            self.errors += 1

    def p95_ms(self) -> float | None:
        return percentile(self.latencies_ms, 95)


def p95(values: list[float]) -> float | None:
    """The 95th percentile as every bench reports it: None (JSON null) when nothing was measured."""
    return percentile(values, 95)


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)], 1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def databases() -> list[str]:
    """SQLite always; PostgreSQL too when DATABASE_URL names a server."""
    return ["sqlite", "postgresql"] if os.environ.get("DATABASE_URL") else ["sqlite"]


async def admin_execute(url: str, statement: str) -> None:
    """One statement on the PostgreSQL server's admin database (CREATE/DROP DATABASE)."""
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _database(kind: str, folder: Path, tag: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = os.environ["DATABASE_URL"]
    name = f"bench_{tag}_{os.getpid()}"
    await admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin_execute(admin, f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _environment(
    folder: Path, database_url: str, port: int, extra: Mapping[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEWDAY_")}
    env.update(
        {
            "INTERVIEWDAY_VAR_DIR": str(folder / "var"),
            "INTERVIEWDAY_SECRET_KEY": "bench-secret-key-0123456789",
            "INTERVIEWDAY_DATABASE_URL": database_url,
            "INTERVIEWDAY_PORT": str(port),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


async def _wait_until_up(base: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as probe:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                tail = (await asyncio.to_thread(log.read_text))[-2000:]
                raise RuntimeError(f"server exited: {tail}")
            with contextlib.suppress(aiohttp.ClientError):
                async with probe.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start within 60 s")


@contextlib.asynccontextmanager
async def served(kind: str, tag: str, extra_env: Mapping[str, str] = {}) -> AsyncIterator[Server]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        async with _database(kind, folder, tag) as database_url:
            port = free_port()
            env = _environment(folder, database_url, port, extra_env)
            cli = [sys.executable, "-m", "web.cli"]
            await asyncio.to_thread(
                subprocess.run, [*cli, "demo"], env=env, cwd=ROOT, check=True, capture_output=True
            )
            log = folder / "server.log"
            with log.open("wb") as sink:
                process = await asyncio.create_subprocess_exec(
                    *cli, "serve", env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT
                )
                base = f"http://127.0.0.1:{port}"
                try:
                    await _wait_until_up(base, process, log)
                    yield Server(base, log, process.pid)
                finally:
                    process.terminate()
                    try:
                        await asyncio.wait_for(process.wait(), 20)
                    except TimeoutError:
                        process.kill()
                        await process.wait()


def client_session(limit: int = 1) -> aiohttp.ClientSession:
    # unsafe=True: the jar otherwise refuses cookies from an IP address such as 127.0.0.1.
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def logged_in(base: str, email: str) -> aiohttp.ClientSession:
    """A client with a session of its own (every login opens a new one)."""
    client = client_session()
    async with client.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD}
    ) as response:
        if response.status != 200:
            await client.close()
            raise RuntimeError(f"login failed: {response.status} {await response.text()}")
    return client


async def log_in_many(base: str, count: int) -> list[aiohttp.ClientSession]:
    clients: list[aiohttp.ClientSession] = []
    for start in range(0, count, 20):  # in batches: logins are meant to be slow
        batch = range(start, min(count, start + 20))
        clients += await asyncio.gather(
            *(logged_in(base, MANAGERS[i % len(MANAGERS)]) for i in batch)
        )
    return clients
