"""The clock carries an applicant from room 1 to room 2 over real aiortc connections: the
moving banner, the move without reconnecting, the interviewer's scoring prompt."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from core.clock import FakeClock
from rooms.models import Interview, InterviewSession, Itinerary, Round
from tests.factories import PASSWORD, World
from tests.live.conftest import Day, grant
from tests.utils import wait_for
from web.daytrack import DAYS
from web.keys import DB


async def two_rounds(app: Any, world: World, day: Day) -> None:
    async with app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, day.session_id)
        session.interview_minutes, session.review_minutes = 10, 2
        for number in (1, 2):
            db.add(Round(program_id=world.a.program_id, session_id=day.session_id, number=number))
        itinerary = (
            await db.execute(
                Itinerary.__table__.select().where(Itinerary.session_id == day.session_id)
            )
        ).first()
        db.add(
            Interview(
                program_id=world.a.program_id,
                itinerary_id=itinerary.id,
                session_id=day.session_id,
                room_id=day.room2,
                round_number=2,
                applicant_id=day.applicant,
            )
        )


def timetrack_events(bot: Any, kind: str) -> list[dict[str, Any]]:
    return [data for name, data in bot.events if name == "timetrack" and data["type"] == kind]


async def test_the_clock_moves_an_applicant(
    live_server: Any, bots: Any, world: World, day: Day, clock: FakeClock
) -> None:
    await two_rounds(live_server.app, world, day)
    applicant = bots(grant(world, day, "applicant"), "a")
    first = bots(grant(world, day, "interviewer1"), "b")
    second = bots(grant(world, day, "interviewer2"), "c")
    for bot in (applicant, first, second):
        await bot.connect()
    pc = applicant.media.pc

    base = str(live_server.make_url("/")).rstrip("/")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base, cookie_jar=jar) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": world.a.coordinator_email, "password": PASSWORD}
        )
        csrf = (await login.json())["csrf_token"]
        started = await http.post(
            f"/api/v1/sessions/{day.session_id}/day/commands",
            json={"kind": "start", "command_id": "start-1"},
            headers={"X-CSRF-Token": csrf},
        )
        assert started.status == 200, await started.text()
        assert (await started.json())["ok"]
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()

    await clock.advance(10 * 60)  # the interview ends
    await runner.settled()
    await wait_for(lambda: timetrack_events(first, "score_prompt"), 2)
    prompt = timetrack_events(first, "score_prompt")[0]
    assert prompt["applicant_id"] == day.applicant and prompt["reminder"] is False
    assert not timetrack_events(second, "score_prompt")

    await clock.advance(2 * 60 - 10)  # 10 s before the review ends
    await runner.settled()
    await wait_for(lambda: timetrack_events(applicant, "moving"), 2)
    banner = timetrack_events(applicant, "moving")[0]
    assert banner["room_name"] == "Room 2" and banner["in_seconds"] == 10

    moved_at = time.monotonic()
    await clock.advance(10)  # round 2 begins: the server re-routes the applicant
    await runner.settled()
    took = await wait_for(lambda: applicant.frames_from(second.participant_id, moved_at) > 0, 1.0)
    assert took < 1.0
    assert applicant.media.pc is pc
    assert applicant.room["name"] == "Room 2"
    await wait_for(lambda: second.frames_from(applicant.participant_id, moved_at) > 0, 2)
