"""Self-scheduling on SQLite and PostgreSQL: the race for the last seats, reschedule, cancel,
deadlines, hidden sessions, the preference window's seeded allocation."""

from __future__ import annotations

import asyncio
from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock, to_datetime
from core.errors import AppError, Conflict, NotFound
from core.ids import new_id
from core.scoping import ProgramScope
from portal import allocation
from portal.models import Applicant, Booking, Program
from portal.models_mail import OutboxMessage
from portal.permissions import Actor
from rooms.models import InterviewSession
from tests.factories import ProgramData, World
from web.api import scheduling as actions

Factory = async_sessionmaker[AsyncSession]
CLOCK_START = FakeClock().now()


def as_applicant(program: ProgramData, applicant_id: str) -> Actor:
    return Actor("applicant", applicant_id, program.program_id, "Applicant")


def director(program: ProgramData) -> Actor:
    return Actor("staff", program.staff_id, program.program_id, "Dir", "director", "director")


async def set_options(factory: Factory, program: ProgramData, **options: Any) -> None:
    async with factory() as db, db.begin():
        row = await db.get(Program, program.program_id)
        assert row is not None
        row.options = {"self_scheduling": True, **options}


async def add_session(
    factory: Factory,
    program: ProgramData,
    name: str,
    capacity: int,
    *,
    visible: bool = True,
    day: date = date(2027, 3, 1),
) -> str:
    async with factory() as db, db.begin():
        session = InterviewSession(
            program_id=program.program_id,
            name=name,
            date=day,
            start_time=time(9),
            timezone="America/New_York",
            capacity=capacity,
            visible=visible,
        )
        db.add(session)
        await db.flush()
        return session.id


async def add_applicants(factory: Factory, program: ProgramData, count: int) -> list[str]:
    batch = new_id()
    async with factory() as db, db.begin():
        rows = [
            Applicant(
                program_id=program.program_id,
                email=f"x{i}.{batch}@{program.program_id}.test",
                first_name=f"X{i}",
                last_name="Racer",
                status="invited",
            )
            for i in range(count)
        ]
        db.add_all(rows)
        await db.flush()
        return [r.id for r in rows]


async def act(factory: Factory, program: ProgramData, action: Any, *args: Any) -> Any:
    async with factory() as db, db.begin():
        return await action(ProgramScope(db, program.program_id), *args)


async def scheduled_ids(factory: Factory, program: ProgramData, session_id: str) -> list[str]:
    async with factory() as db:
        rows = await ProgramScope(db, program.program_id).all(
            Booking, Booking.session_id == session_id, Booking.status == "scheduled"
        )
        return sorted(r.applicant_id for r in rows)


@pytest.mark.slow
async def test_two_hundred_claims_for_the_last_ten_seats(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    await set_options(factory, a)
    session_id = await add_session(factory, a, "Race day", 10)
    racers = await add_applicants(factory, a, 200)
    now = to_datetime(CLOCK_START)

    async def claim(applicant_id: str) -> str:
        try:
            await act(factory, a, actions.book, as_applicant(a, applicant_id), session_id, now)
        except Conflict as exc:
            return exc.code
        return "booked"

    outcomes = await asyncio.gather(*(claim(i) for i in racers))
    assert outcomes.count("booked") == 10
    assert set(outcomes) == {"booked", "session_full"}
    assert len(await scheduled_ids(factory, a, session_id)) == 10


async def test_reschedule_keeps_the_old_seat_until_the_new_is_secured(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    await set_options(factory, a)
    first = await add_session(factory, a, "First", 1)
    second = await add_session(factory, a, "Second", 1)
    full = await add_session(factory, a, "Full", 1)
    [blocker] = await add_applicants(factory, a, 1)
    now = to_datetime(CLOCK_START)
    await act(factory, a, actions.book, as_applicant(a, blocker), full, now)
    me = as_applicant(a, a.applicant_id)
    booking = await act(factory, a, actions.book, me, first, now)
    moved = await act(factory, a, actions.reschedule, me, booking.id, second, now)
    assert moved.session_id == second
    assert await scheduled_ids(factory, a, first) == []
    with pytest.raises(Conflict) as full_error:
        await act(factory, a, actions.reschedule, me, booking.id, full, now)
    assert full_error.value.code == "session_full" and "kept" in full_error.value.message
    assert await scheduled_ids(factory, a, second) == [a.applicant_id]
    async with factory() as db:
        kinds = [m.kind for m in await ProgramScope(db, a.program_id).all(OutboxMessage)]
    assert kinds.count("confirmation") == 3  # blocker, first booking, the move


async def test_deadline_hidden_double_and_status_each_get_a_clear_message(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    await set_options(factory, a, manage_deadline_days=30)
    soon = await add_session(factory, a, "Soon", 5, day=date(2027, 1, 20))
    later = await add_session(factory, a, "Later", 5)
    hidden = await add_session(factory, a, "Hidden", 5, visible=False)
    now = to_datetime(CLOCK_START)
    me = as_applicant(a, a.applicant_id)
    with pytest.raises(Conflict) as closed:
        await act(factory, a, actions.book, me, soon, now)
    assert closed.value.code == "deadline_passed" and "30 days before" in closed.value.message
    with pytest.raises(NotFound) as invisible:
        await act(factory, a, actions.book, me, hidden, now)
    assert "not open for booking" in invisible.value.message
    booking = await act(factory, a, actions.book, me, later, now)
    with pytest.raises(Conflict) as twice:
        await act(factory, a, actions.book, me, later, now)
    assert twice.value.code == "already_booked"
    late = to_datetime(CLOCK_START) + timedelta(days=30)
    with pytest.raises(Conflict) as too_late:
        await act(factory, a, actions.cancel, me, booking.id, late)
    assert too_late.value.code == "deadline_passed"
    await act(factory, a, actions.cancel, me, booking.id, now)
    async with factory() as db:
        applicant = await db.get(Applicant, a.applicant_id)
        assert applicant is not None and applicant.status == "invited"
        cancellation = await ProgramScope(db, a.program_id).all(
            OutboxMessage, OutboxMessage.kind == "cancellation"
        )
        assert cancellation and cancellation[0].ics and "METHOD:CANCEL" in cancellation[0].ics


async def test_choices_wait_for_the_coordinator_without_self_scheduling(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    await set_options(factory, a, self_scheduling=False)
    one = await add_session(factory, a, "One", 2)
    two = await add_session(factory, a, "Two", 2)
    me = as_applicant(a, a.applicant_id)
    outcome = await act(factory, a, actions.choose, me, [one, two], to_datetime(CLOCK_START))
    assert outcome.booking is None and "coordinator" in outcome.message
    with pytest.raises(AppError):
        await act(factory, a, actions.choose, me, [one, one], to_datetime(CLOCK_START))


async def test_first_choice_full_books_the_second(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    await set_options(factory, a)
    one = await add_session(factory, a, "One", 1)
    two = await add_session(factory, a, "Two", 1)
    now = to_datetime(CLOCK_START)
    await act(factory, a, actions.book, as_applicant(a, a.other_applicant_id), one, now)
    outcome = await act(
        factory, a, actions.choose, as_applicant(a, a.applicant_id), [one, two], now
    )
    assert outcome.session.id == two


def test_allocation_is_rank_by_rank_and_replays_from_its_seed() -> None:
    preferences = {"a": ["s1", "s2"], "b": ["s1", "s2"], "c": ["s1"], "d": ["s2", "s1"]}
    free = {"s1": 1, "s2": 2}
    first = allocation.allocate(preferences, free, seed=7)
    assert first == allocation.allocate(preferences, free, seed=7)
    assert first.seated["d"] == "s2"  # d's first choice beats anyone's second
    assert list(first.seated.values()).count("s1") == 1
    assert len(first.seated) == 3 and len(first.leftovers) == 1
    winners = {allocation.allocate(preferences, free, seed=s).seated.get("c") for s in range(30)}
    assert winners == {"s1", None}  # the lottery, not the name, decides who gets s1


async def test_preference_window_allocation_is_recorded(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    close = to_datetime(CLOCK_START + 3600)
    await set_options(factory, a, preferences_close_at=close.isoformat())
    s1 = await add_session(factory, a, "S1", 1)
    s2 = await add_session(factory, a, "S2", 1)
    people = [a.applicant_id, a.other_applicant_id, *await add_applicants(factory, a, 1)]
    now = to_datetime(CLOCK_START)
    for applicant_id in people:
        await act(factory, a, actions.rank, as_applicant(a, applicant_id), [s1, s2], now)
    with pytest.raises(Conflict) as window:
        await act(factory, a, actions.choose, as_applicant(a, people[0]), [s1], now)
    assert window.value.code == "preference_window"
    with pytest.raises(Conflict):
        await act(factory, a, actions.run_allocation, director(a), 42, now)
    later = to_datetime(CLOCK_START + 3601)
    run = await act(factory, a, actions.run_allocation, director(a), 42, later)
    assert run.seed == 42 and len(run.seated) == 2 and len(run.leftovers) == 1
    assert allocation.replay(run).seated == run.seated
    expected = allocation.allocate({p: [s1, s2] for p in people}, {s1: 1, s2: 1}, 42)
    assert run.seated == expected.seated
    assert await scheduled_ids(factory, a, s1) == [k for k, v in run.seated.items() if v == s1]
    with pytest.raises(Conflict):
        await act(factory, a, actions.run_allocation, director(a), 42, later)
