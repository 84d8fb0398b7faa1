"""Benchmark of self-scheduling under a rush. Run: `.venv/bin/python bench/booking.py`.

Starts the app in-process on a free loopback port (SQLite in a temporary folder, or the
PostgreSQL database named by `DATABASE_URL`), seeds one program with a 50-seat session and 500
invited applicants, signs each applicant in through their magic link, then has all 500 claim a
seat at once over HTTP (`POST /api/v1/me/bookings`). Prints the outcome and ends with one JSON
line: `{"claims": 500, "seats": 50, "booked": ..., "overbooked": 0, "claims_per_s": ...}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import date
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp

# A plain script, not a package: make the repository root importable when run as a file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web
from served import admin_execute, free_port
from sqlalchemy import func, select

from core.settings import Settings, load_settings
from portal.models import Applicant, Booking, Program
from rooms.models import InterviewSession
from web.app import create_app
from web.keys import AUTH, DB
from web.migrate import upgrade_async

CLAIMS = 500
SEATS = 50


def settings_for(folder: Path, port: int, database_url: str | None) -> Settings:
    env = {
        "INTERVIEWDAY_VAR_DIR": str(folder),
        "INTERVIEWDAY_SECRET_KEY": "bench-secret-key-0123456789",
        "INTERVIEWDAY_PORT": str(port),
    }
    if database_url:
        env["INTERVIEWDAY_DATABASE_URL"] = database_url
    return load_settings(env)


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str | None]:
    """With DATABASE_URL (PostgreSQL), a throwaway database beside it; else None (SQLite)."""
    admin = os.environ.get("DATABASE_URL")
    if not admin:
        yield None
        return
    name = f"bench_booking_{os.getpid()}"
    await admin_execute(admin, f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        await admin_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def seed(app: web.Application) -> tuple[str, list[str]]:
    """One program, one visible 50-seat session, 500 invited applicants and their links."""
    async with app[DB]() as db, db.begin():
        program = Program(
            name="Bench", slug=f"bench-{time.time_ns()}", options={"self_scheduling": True}
        )
        db.add(program)
        await db.flush()
        session = InterviewSession(
            program_id=program.id,
            name="Rush day",
            date=date(2099, 3, 1),
            start_time=clock_time(9),
            timezone="America/New_York",
            capacity=SEATS,
            visible=True,
        )
        applicants = [
            Applicant(
                program_id=program.id,
                email=f"rush{i}@bench.test",
                first_name=f"R{i}",
                last_name="Rush",
                status="invited",
            )
            for i in range(CLAIMS)
        ]
        db.add(session)
        db.add_all(applicants)
        await db.flush()
        tokens = [await app[AUTH].issue_magic_link(db, a) for a in applicants]
        return session.id, tokens


async def sign_in(base: str, token: str) -> tuple[aiohttp.ClientSession, str]:
    # unsafe=True: the jar otherwise refuses cookies from an IP address such as 127.0.0.1.
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with client.get(f"{base}/a/{token}", allow_redirects=False) as opened:
        assert opened.status == 303, opened.status
    async with client.get(f"{base}/api/v1/auth/me") as me:
        csrf = str((await me.json())["csrf_token"])
    return client, csrf


async def claim(client: aiohttp.ClientSession, csrf: str, base: str, session_id: str) -> int:
    async with client.post(
        f"{base}/api/v1/me/bookings",
        json={"session_id": session_id},
        headers={"X-CSRF-Token": csrf},
    ) as response:
        await response.read()
        return response.status


async def main() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        async with scratch_database() as database_url:
            return await run(Path(folder), database_url)


async def run(folder: Path, database_url: str | None) -> dict[str, object]:
    port = free_port()
    settings = settings_for(folder, port, database_url)
    await upgrade_async(settings.database_url)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    clients: list[tuple[aiohttp.ClientSession, str]] = []
    try:
        session_id, tokens = await seed(app)
        for start in range(0, len(tokens), 50):  # sign-ins in batches, before the rush
            clients += await asyncio.gather(*(sign_in(base, t) for t in tokens[start : start + 50]))
        started = time.perf_counter()
        statuses = await asyncio.gather(
            *(claim(client, csrf, base, session_id) for client, csrf in clients)
        )
        elapsed = time.perf_counter() - started
        async with app[DB]() as db:
            booked = int(
                await db.scalar(
                    select(func.count())
                    .select_from(Booking)
                    .where(Booking.session_id == session_id, Booking.status == "scheduled")
                )
                or 0
            )
    finally:
        await asyncio.gather(*(client.close() for client, _ in clients))
        await runner.cleanup()
    by_status = {str(s): statuses.count(s) for s in sorted(set(statuses))}
    database = "postgresql" if "postgresql" in settings.database_url else "sqlite"
    print(f"database: {database}; {CLAIMS} claims for {SEATS} seats in {elapsed:.2f} s")
    print(f"responses by status: {by_status}")
    return {
        "claims": CLAIMS,
        "seats": SEATS,
        "booked": booked,
        "overbooked": max(0, booked - SEATS),
        "claims_per_s": round(CLAIMS / elapsed, 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
