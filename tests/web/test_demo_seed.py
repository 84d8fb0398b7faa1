"""The demo seeds a day *today* that starts a few minutes later, with 3-minute rounds (2-minute
interviews, 1-minute reviews) and a published itinerary; re-running the seed duplicates
nothing, reschedules a day not started, keeps a running one and replaces one that is over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.clock import FakeClock
from core.db import create_engine, create_session_factory
from core.scoping import ProgramScope
from core.security import Passwords
from portal.models import Booking, Program
from rooms import itineraries
from rooms.models import Interview, InterviewSession, Room, RoomInterviewer, Round
from timetrack.models import DayRun
from timetrack.state import state_to_json
from web.daytrack import build_day
from web.demo import DEMO_TIMEZONE, LIVE_SESSION, DemoLogins, seed_demo

# 2027-01-15 14:02:30 in New York: the day should start at 14:06 (3 minutes on, rounded up).
NOW = datetime(2027, 1, 15, 14, 2, 30, tzinfo=ZoneInfo(DEMO_TIMEZONE)).timestamp()


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[Any]:
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def seed(factory: Any, clock: FakeClock) -> DemoLogins:
    async with factory() as db, db.begin():
        return await seed_demo(db, Passwords(), clock)


async def counts(factory: Any) -> dict[str, int]:
    async with factory() as db:
        return {
            model.__tablename__: int(await db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (InterviewSession, Room, RoomInterviewer, Round, Booking, Interview)
        }


async def live_session(factory: Any) -> InterviewSession:
    async with factory() as db:
        session: InterviewSession | None = await db.scalar(
            select(InterviewSession).where(InterviewSession.name == LIVE_SESSION)
        )
        assert session is not None
        return session


def starts_at(session: InterviewSession) -> float:
    return datetime.combine(
        session.date, session.start_time, tzinfo=ZoneInfo(session.timezone)
    ).timestamp()


async def test_a_day_today_starting_in_minutes_with_a_published_itinerary(factory: Any) -> None:
    clock = FakeClock(NOW)
    logins = await seed(factory, clock)
    session = await live_session(factory)
    assert logins.live.session_id == session.id
    assert session.timezone == DEMO_TIMEZONE
    assert session.date.isoformat() == "2027-01-15"
    assert session.start_time.isoformat() == "14:06:00"
    assert NOW + 3 * 60 <= starts_at(session) <= NOW + 4 * 60
    assert (session.interview_minutes, session.review_minutes) == (2, 1)  # 3-minute rounds
    assert session.interview_minutes + session.review_minutes == 3
    assert session.mode == "native" and not session.manual_mode
    async with factory() as db:
        program = await db.scalar(select(Program))
        assert program is not None
        scope = ProgramScope(db, program.id)
        itinerary = await itineraries.current(scope, session.id)
        assert itinerary is not None and itinerary.status == "published"
        rows = await itineraries.interviews(scope, itinerary)
        assert len(rows) == 16  # 4 applicants x 4 rounds, each room once
        assert {
            len({r.room_id for r in rows if r.applicant_id == a})
            for a in {r.applicant_id for r in rows}
        } == {4}
        # What the day runner needs: it builds this day without complaint.
        state, _ = await build_day(scope, session)
    assert len(state.rooms) == 4 and all(room.interviewer_ids for room in state.rooms)
    assert state.plan.start == starts_at(session)
    assert logins.applicant_email == "applicant09@demo.test"
    assert logins.live.interviewer_emails[0] == "interviewer1@demo.test"
    # The two future days are still there, tomorrow and the day after.
    async with factory() as db:
        days = sorted(
            s.date for s in await db.scalars(select(InterviewSession)) if s.id != session.id
        )
    assert [d.isoformat() for d in days] == ["2027-01-16", "2027-01-17"]


async def test_rerunning_duplicates_nothing_and_reschedules_a_day_not_started(
    factory: Any,
) -> None:
    clock = FakeClock(NOW)
    first = await seed(factory, clock)
    before = await counts(factory)
    assert before["interview_sessions"] == 3

    await clock.advance(10 * 60)
    second = await seed(factory, clock)
    assert await counts(factory) == before
    assert second.live.session_id == first.live.session_id
    session = await live_session(factory)
    assert session.start_time.isoformat() == "14:16:00"

    await clock.advance(24 * 3600)  # `make run` the next day: today's day again, soon
    await seed(factory, clock)
    assert await counts(factory) == before
    session = await live_session(factory)
    assert session.date.isoformat() == "2027-01-16"
    assert clock.now() < starts_at(session) <= clock.now() + 4 * 60


async def set_day(factory: Any, session_id: str, *, ended: bool) -> None:
    """The day as a server leaves it once started (and, if `ended`, over)."""
    async with factory() as db, db.begin():
        session = await db.get(InterviewSession, session_id)
        assert session is not None
        state, _ = await build_day(ProgramScope(db, session.program_id), session)
        state = replace(state, started=True, ended=ended)
        db.add(
            DayRun(
                program_id=session.program_id,
                session_id=session_id,
                plan=state_to_json(state),
                state="ended" if ended else "running",
            )
        )


async def test_a_running_day_is_kept_and_a_day_over_is_replaced(factory: Any) -> None:
    clock = FakeClock(NOW)
    first = await seed(factory, clock)
    before = await counts(factory)
    await set_day(factory, first.live.session_id, ended=False)
    await clock.advance(5 * 60)  # mid-day: the bots of `demo --live` join this one
    again = await seed(factory, clock)
    assert again.live.session_id == first.live.session_id and again.live.running
    assert (await live_session(factory)).start_time.isoformat() == "14:06:00"

    async with factory() as db, db.begin():
        run = await db.get(DayRun, first.live.session_id)
        assert run is not None
        await db.delete(run)
    await set_day(factory, first.live.session_id, ended=True)
    fresh = await seed(factory, clock)
    assert fresh.live.session_id != first.live.session_id and not fresh.live.running
    assert await counts(factory) == before
    session = await live_session(factory)
    assert clock.now() < starts_at(session) <= clock.now() + 4 * 60
    async with factory() as db:
        assert await db.get(InterviewSession, first.live.session_id) is None
        assert await db.get(DayRun, first.live.session_id) is None


async def test_a_day_left_running_yesterday_is_replaced(factory: Any) -> None:
    clock = FakeClock(NOW)
    first = await seed(factory, clock)
    await set_day(factory, first.live.session_id, ended=False)
    await clock.advance(timedelta(days=1).total_seconds())
    fresh = await seed(factory, clock)
    assert fresh.live.session_id != first.live.session_id
    assert (await live_session(factory)).date.isoformat() == "2027-01-16"
