"""Finding and preparing the real services the tests use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from web.migrate import upgrade

TEMPLATE_DB = "interviewday_test_template"


def missing(service: str, reason: str) -> None:
    required = {s.strip() for s in os.environ.get("INTERVIEWDAY_TESTS_REQUIRE", "").split(",")}
    if service in required:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


# SQLite -----------------------------------------------------------------------------------


def sqlite_template(folder: Path) -> Path:
    path = folder / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "test.db"
    shutil.copy(template, target)
    return f"sqlite+aiosqlite:///{target}"


# PostgreSQL -------------------------------------------------------------------------------


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        return None
    _, rest = url.split("://", 1)
    return "postgresql+asyncpg://" + rest


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(url: str, *statements: str) -> None:
    import asyncpg

    async def run() -> None:
        plain = _with_database(url, "postgres").replace("postgresql+asyncpg", "postgresql")
        conn = await asyncpg.connect(plain)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def postgres_template(url: str) -> str:
    name = f"{TEMPLATE_DB}_{os.getpid()}"
    try:
        _admin(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    except OSError as exc:
        missing("postgres", f"PostgreSQL at {url} is not reachable: {exc}")
    upgrade(_with_database(url, name))
    return name


def postgres_copy(admin_url: str) -> tuple[str, str]:
    name = f"interviewday_t_{uuid.uuid4().hex[:12]}"
    template = f"{TEMPLATE_DB}_{os.getpid()}"
    _admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _with_database(admin_url, name), name


def drop_postgres_database(admin_url: str, name: str) -> None:
    with contextlib.suppress(Exception):
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Redis ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis", "Redis: set REDIS_URL or install redis-server to run")
    assert binary is not None
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


# Chromium ---------------------------------------------------------------------------------


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured and Path(configured).exists():
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")
