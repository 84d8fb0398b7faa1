"""The embedded default under load: the TimeTrack ticker, the jobs loop and 100 concurrent
writers on one SQLite file, and not one `database is locked`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from core.clock import FakeClock, to_datetime
from core.scoping import ProgramScope
from portal import outbox
from portal.models_mail import OutboxMessage
from tests.factories import PASSWORD, World
from tests.live.conftest import Day
from tests.live.test_timetrack_live import two_rounds
from web.daytrack import DAYS
from web.jobs import JOBS
from web.keys import DB

WRITERS = 100
MESSAGES = 30


async def queue_mail(app: Any, world: World, clock: FakeClock) -> None:
    async with app[DB]() as db, db.begin():
        scope = ProgramScope(db, world.a.program_id)
        for n in range(MESSAGES):
            await outbox.enqueue(
                scope,
                key=f"load-{n}",
                kind="invitation",
                recipient=outbox.Recipient(f"person{n}@a.test", f"Person {n}", "Person"),
                context={"link": "http://127.0.0.1/x"},
                now=to_datetime(clock.now()),
            )


@pytest.mark.slow
async def test_ticker_jobs_and_100_writers_share_sqlite_without_errors(
    live_server: Any, world: World, day: Day, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = live_server.app
    await two_rounds(app, world, day)
    await queue_mail(app, world, clock)
    caplog.set_level(logging.WARNING)

    base = str(live_server.make_url("/")).rstrip("/")
    connector = aiohttp.TCPConnector(limit=WRITERS)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base, cookie_jar=jar, connector=connector) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": world.a.director_email, "password": PASSWORD}
        )
        assert login.status == 200, await login.text()
        headers = {"X-CSRF-Token": (await login.json())["csrf_token"]}
        started = await http.post(
            f"/api/v1/sessions/{day.session_id}/day/commands",
            json={"kind": "start", "command_id": "start-load"},
            headers=headers,
        )
        assert started.status == 200, await started.text()
        runner = app[DAYS].runners[day.session_id]
        await runner.settled()

        async def write(n: int) -> int:
            response = await http.post(
                "/api/v1/staff",
                json={"name": f"Load {n}", "email": f"load{n}@a.test", "role": "interviewer"},
                headers=headers,
            )
            return response.status

        async def tick() -> None:
            # Through both rounds and past the end: moves, knocks, prompts, statuses.
            for _ in range(30):
                await clock.advance(60)
                await asyncio.sleep(0)

        async def jobs() -> None:
            for _ in range(10):
                await app[JOBS].run_due()

        writes, *_ = await asyncio.gather(
            asyncio.gather(*(write(n) for n in range(WRITERS))), tick(), jobs()
        )
        await runner.settled()
        await app[JOBS].run_due()

    assert writes == [201] * WRITERS

    async def outbox_statuses() -> dict[str, int]:
        async with app[DB]() as db:
            rows = await db.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
            return {status: count for status, count in rows.all()}

    # The app's own jobs loop (woken by the clock the ticker advanced) may still be handing a
    # message to the SMTP server: wait for what is in flight, not for the clock.
    statuses = await outbox_statuses()
    for _ in range(500):
        if "sending" not in statuses:
            break
        await asyncio.sleep(0.01)
        statuses = await outbox_statuses()
    assert set(statuses) == {"sent"} and statuses["sent"] >= MESSAGES, statuses
    assert runner.state.ended, runner.state
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or "locked" in r.message]
    assert problems == []
