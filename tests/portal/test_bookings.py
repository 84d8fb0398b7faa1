"""portal.bookings on SQLite and PostgreSQL: seats, capacity, moves, removal, audit."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import Conflict, NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal import bookings
from portal.bookings import SessionSeats, full_message
from portal.models import Applicant, AuditEntry, Booking
from portal.permissions import Actor
from rooms.models import InterviewSession
from tests.factories import ProgramData, World
from web.api.bookings import seats_of

Factory = async_sessionmaker[AsyncSession]


def director(program: ProgramData) -> Actor:
    return Actor("staff", program.staff_id, program.program_id, "Dir", "director", "director")


async def add_session(factory: Factory, program: ProgramData, name: str, capacity: int) -> str:
    async with factory() as db, db.begin():
        session = InterviewSession(
            program_id=program.program_id,
            name=name,
            date=date(2027, 2, 1),
            start_time=time(9),
            timezone="America/New_York",
            capacity=capacity,
        )
        db.add(session)
        await db.flush()
        return session.id


async def add_applicants(factory: Factory, program: ProgramData, count: int) -> list[str]:
    async with factory() as db, db.begin():
        rows = [
            Applicant(
                program_id=program.program_id,
                email=f"extra{i}@{program.program_id}.test",
                first_name="Extra",
                last_name=str(i),
                status="invited",
            )
            for i in range(count)
        ]
        db.add_all(rows)
        await db.flush()
        return [r.id for r in rows]


async def book(factory: Factory, program: ProgramData, session_id: str, ids: list[str]) -> None:
    async with factory() as db, db.begin():
        scope = ProgramScope(db, program.program_id)
        seats = await seats_of(scope, session_id, lock=True)
        await bookings.book(scope, director(program), seats, ids)


def test_full_message_is_plain() -> None:
    seats = SessionSeats("s", "Jan 15 AM", 4)
    assert full_message(seats, 3, 1) is None
    assert full_message(seats, 4, 1) == (
        "Jan 15 AM is full: 4 of 4 seats are taken and 1 more seat were asked for (0 free)."
    )
    assert "capacity 0" in (full_message(SessionSeats("s", "X", 0), 0, 1) or "")


async def test_book_fills_seats_and_schedules(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    session_id = await add_session(factory, a, "Feb 1", 2)
    await book(factory, a, session_id, [a.applicant_id, a.other_applicant_id])
    async with factory() as db:
        scope = ProgramScope(db, a.program_id)
        rows = await bookings.session_bookings(scope, session_id)
        assert {applicant.id for _, applicant in rows} == {a.applicant_id, a.other_applicant_id}
        assert all(b.status == "scheduled" for b, _ in rows)
        assert all(applicant.status == "scheduled" for _, applicant in rows)
        (occ,) = await bookings.occupancy(scope, [SessionSeats(session_id, "Feb 1", 2)])
        assert (occ.booked, occ.free, occ.full) == (2, 0, True)
        audit = await db.scalars(
            select(AuditEntry.action).where(AuditEntry.program_id == a.program_id)
        )
        actions = list(audit)
        assert actions.count("booking.create") == 2 and actions.count("applicant.status") == 2


async def test_over_capacity_books_nobody(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    session_id = await add_session(factory, a, "Small", 1)
    with pytest.raises(Conflict) as caught:
        await book(factory, a, session_id, [a.applicant_id, a.other_applicant_id])
    assert caught.value.code == "session_full"
    assert "Small is full: 0 of 1 seats are taken and 2 more seats" in caught.value.message
    async with factory() as db:
        assert not list(await db.scalars(select(Booking)))


async def test_duplicate_booking_refused(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    first = await add_session(factory, a, "First", 3)
    second = await add_session(factory, a, "Second", 3)
    await book(factory, a, first, [a.applicant_id])
    for target in (first, second):
        with pytest.raises(Conflict) as caught:
            await book(factory, a, target, [a.applicant_id])
        assert caught.value.code == "already_booked"


async def test_move_keeps_the_seat_until_the_new_one_is_taken(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    old = await add_session(factory, a, "Old", 2)
    full = await add_session(factory, a, "Full", 1)
    roomy = await add_session(factory, a, "Roomy", 2)
    await book(factory, a, old, [a.applicant_id])
    await book(factory, a, full, [a.other_applicant_id])
    async with factory() as db:
        (booking,) = await bookings.applicant_bookings(
            ProgramScope(db, a.program_id), [a.applicant_id]
        )
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        with pytest.raises(Conflict) as caught:
            await bookings.move(scope, director(a), booking.id, await seats_of(scope, full))
        assert caught.value.code == "session_full"
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        with pytest.raises(ValidationFailed):
            await bookings.move(scope, director(a), booking.id, await seats_of(scope, old))
    async with factory() as db:
        still = await db.get(Booking, booking.id)
        assert still is not None and still.session_id == old
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        moved = await bookings.move(scope, director(a), booking.id, await seats_of(scope, roomy))
        assert moved.session_id == roomy
    async with factory() as db:
        scope = ProgramScope(db, a.program_id)
        seats = [SessionSeats(old, "Old", 2), SessionSeats(roomy, "Roomy", 2)]
        assert [o.booked for o in await bookings.occupancy(scope, seats)] == [0, 1]


async def test_remove_releases_and_reverts_status(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    session_id = await add_session(factory, a, "S", 1)
    await book(factory, a, session_id, [a.applicant_id])
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        (booking,) = await bookings.applicant_bookings(scope, [a.applicant_id])
        await bookings.remove(scope, director(a), booking.id)
    async with factory() as db:
        applicant = await db.get(Applicant, a.applicant_id)
        assert applicant is not None and applicant.status == "invited"
        assert await bookings.booked_count(ProgramScope(db, a.program_id), session_id) == 0


async def test_waitlisted_booking_is_promoted(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    session_id = await add_session(factory, a, "W", 1)
    async with factory() as db, db.begin():
        db.add(
            Booking(
                program_id=a.program_id,
                session_id=session_id,
                applicant_id=a.applicant_id,
                status="waitlisted",
            )
        )
    await book(factory, a, session_id, [a.applicant_id])
    async with factory() as db:
        rows = list(await db.scalars(select(Booking)))
        assert [(r.applicant_id, r.status) for r in rows] == [(a.applicant_id, "scheduled")]


async def test_other_programs_rows_are_not_found(factory: Factory, two_programs: World) -> None:
    a, b = two_programs.a, two_programs.b
    b_session = await add_session(factory, b, "B only", 5)
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        with pytest.raises(NotFound):
            await seats_of(scope, b_session)
        seats = await seats_of(scope, a.session_id)
        with pytest.raises(NotFound):
            await bookings.book(scope, director(a), seats, [b.applicant_id])
    await book(factory, b, b_session, [b.applicant_id])
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        (b_booking,) = await bookings.applicant_bookings(
            ProgramScope(db, b.program_id), [b.applicant_id]
        )
        with pytest.raises(NotFound):
            await bookings.remove(scope, director(a), b_booking.id)


async def test_refuses_declined_applicants(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    session_id = await add_session(factory, a, "D", 5)
    ids = await add_applicants(factory, a, 1)
    async with factory() as db, db.begin():
        applicant = await db.get(Applicant, ids[0])
        assert applicant is not None
        applicant.status = "declined"
    with pytest.raises(Conflict) as caught:
        await book(factory, a, session_id, ids)
    assert caught.value.code == "not_bookable"
