"""Manual booking: seats in sessions, moves between sessions, capacity at a glance.

This module is where `portal` bookings meet `rooms` sessions: it reads the session (locked
when seats are about to be taken) and hands `portal.bookings` its id, name and capacity.
Whoever staff place in a session (`assign`, `move_booking`) is told by email: the
"assignment" email with the session's time, a calendar file and the meeting rooms open to
them. Pages call these two functions as the API does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from core.errors import Conflict, NotFound
from core.scoping import ProgramScope
from portal import bookings, scheduling
from portal.bookings import SessionSeats
from portal.models import Applicant, Booking
from portal.people import MAX_BULK
from portal.permissions import Actor
from rooms.models import InterviewSession
from web import meeting_links
from web.api.fields import RowId, SingleLine
from web.api.framework import Api, Call
from web.booking_rules import now_of, session_info
from web.jobs import wake_after_commit
from web.keys import SETTINGS

api = Api()


async def seats_of(scope: ProgramScope, session_id: str, *, lock: bool = False) -> SessionSeats:
    """The session as `portal.bookings` sees it; 404 for another program's session.

    `lock` takes the session row FOR UPDATE (PostgreSQL; SQLite serializes writers anyway),
    so two coordinators filling the last seat at the same moment are served one after the
    other and the second one sees the session full."""
    statement = scope.select(InterviewSession, InterviewSession.id == session_id)
    if lock:
        statement = statement.with_for_update()
    session = await scope.db.scalar(statement)
    if session is None:
        raise NotFound(f"No session with id {session_id!r}", field="session_id")
    return SessionSeats(session.id, session.name, session.capacity)


async def refuse_if_finalized(scope: ProgramScope, *session_ids: str) -> None:
    """A finalized session's bookings are locked: its itinerary was built from them."""
    for session_id in session_ids:
        session = await scope.find(InterviewSession, session_id)
        if session is not None and session.finalized_at is not None:
            raise Conflict(
                f"{session.name} is finalized: its bookings are locked.",
                field="session_id",
                code="session_finalized",
            )


async def tell_placed(
    scope: ProgramScope, session_id: str, placed: Sequence[Booking], app: web.Application
) -> int:
    """Emails each applicant staff just placed in the session (once per placement: the key
    names the booking, the session and the moment). Answers how many were queued."""
    if not placed:
        return 0
    now = now_of(app)
    session = await scope.get(InterviewSession, session_id, what="session")
    info = await session_info(scope, session)
    rooms = await meeting_links.for_session(scope, info, now)
    meetings = meeting_links.email_text(rooms, info.timezone, app[SETTINGS].public_url)
    for booking in placed:
        applicant = await scope.get(Applicant, booking.applicant_id, what="applicant")
        await scheduling.notify(
            scope,
            applicant,
            "assignment",
            f"assignment:{booking.id}:{session_id}:{int(now.timestamp())}",
            info,
            now,
            ics=scheduling.session_ics(info, applicant.id, now, cancel=False),
            meeting_rooms=meetings,
        )
    wake_after_commit(scope.db, app)
    return len(placed)


async def assign(
    scope: ProgramScope,
    actor: Actor,
    session_id: str,
    applicant_ids: Sequence[str],
    app: web.Application,
) -> list[Booking]:
    """What "Assign to this session" does: seats for these applicants (all or none), each
    told by email. Refused for a finalized session, whose itinerary was built from it."""
    await refuse_if_finalized(scope, session_id)
    seats = await seats_of(scope, session_id, lock=True)
    made = await bookings.book(scope, actor, seats, list(applicant_ids))
    await tell_placed(scope, seats.id, made, app)
    return made


async def move_booking(
    scope: ProgramScope, actor: Actor, booking_id: str, session_id: str, app: web.Application
) -> Booking:
    """Moves a booking to another session (the old seat is kept until the new one is taken);
    the applicant is told their new session by email."""
    booking = await scope.get(Booking, booking_id, what="booking")
    await refuse_if_finalized(scope, booking.session_id, session_id)
    seats = await seats_of(scope, session_id, lock=True)
    moved = await bookings.move(scope, actor, booking.id, seats)
    await tell_placed(scope, seats.id, [moved], app)
    return moved


async def all_seats(scope: ProgramScope) -> list[tuple[InterviewSession, SessionSeats]]:
    sessions = await scope.all(InterviewSession)
    sessions.sort(key=lambda s: (s.date, s.start_time, s.name))
    return [(s, SessionSeats(s.id, s.name, s.capacity)) for s in sessions]


class BookingOut(BaseModel):
    id: str
    session_id: str
    applicant_id: str
    applicant_name: str | None = None
    applicant_email: str | None = None
    status: str
    source: str
    created_at: datetime


def booking_out(booking: Booking, applicant: Applicant | None = None) -> BookingOut:
    return BookingOut(
        id=booking.id,
        session_id=booking.session_id,
        applicant_id=booking.applicant_id,
        applicant_name=applicant.display_name if applicant else None,
        applicant_email=applicant.email if applicant else None,
        status=booking.status,
        source=booking.source,
        created_at=booking.created_at,
    )


class CapacityOut(BaseModel):
    session_id: str
    name: str
    date: date
    capacity: int
    booked: int
    waitlisted: int
    free: int
    full: bool


class SessionBookingsOut(CapacityOut):
    bookings: list[BookingOut]


class BookIn(BaseModel):
    applicant_ids: list[RowId] = Field(min_length=1, max_length=MAX_BULK)


class MoveIn(BaseModel):
    session_id: Annotated[str, StringConstraints(min_length=1, max_length=32), SingleLine]


def capacity_out(session: InterviewSession, occupancy: bookings.Occupancy) -> CapacityOut:
    return CapacityOut(
        session_id=session.id,
        name=session.name,
        date=session.date,
        capacity=session.capacity,
        booked=occupancy.booked,
        waitlisted=occupancy.waitlisted,
        free=occupancy.free,
        full=occupancy.full,
    )


@api.route(
    "GET",
    "/bookings/capacity",
    summary="Booked seats and capacity of every session",
    tags=("bookings",),
    permission="applicants.read",
    response=list[CapacityOut],
)
async def capacity(call: Call) -> list[CapacityOut]:
    pairs = await all_seats(call.scope)
    occupancies = await bookings.occupancy(call.scope, [seats for _, seats in pairs])
    return [capacity_out(s, o) for (s, _), o in zip(pairs, occupancies, strict=True)]


@api.route(
    "GET",
    "/sessions/{session_id}/bookings",
    summary="A session's bookings with its capacity",
    tags=("bookings",),
    permission="applicants.read",
    response=SessionBookingsOut,
)
async def session_bookings(call: Call) -> SessionBookingsOut:
    session = await call.scope.get(InterviewSession, call.path("session_id"), what="session")
    seats = SessionSeats(session.id, session.name, session.capacity)
    (occupancy,) = await bookings.occupancy(call.scope, [seats])
    rows = await bookings.session_bookings(call.scope, session.id)
    return SessionBookingsOut(
        **capacity_out(session, occupancy).model_dump(),
        bookings=[booking_out(b, a) for b, a in rows],
    )


@api.route(
    "POST",
    "/sessions/{session_id}/bookings",
    summary="Book applicants into a session's seats (all or none; 409 session_full)",
    tags=("bookings",),
    permission="bookings.write",
    body=BookIn,
    response=list[BookingOut],
    status=201,
)
async def book(call: Call) -> list[BookingOut]:
    made = await assign(
        call.scope, call.staff, call.path("session_id"), call.body.applicant_ids, call.request.app
    )
    return [booking_out(b) for b in made]


@api.route(
    "GET",
    "/applicants/{applicant_id}/bookings",
    summary="An applicant's bookings",
    tags=("bookings",),
    permission="applicants.read",
    response=list[BookingOut],
)
async def applicant_bookings(call: Call) -> list[BookingOut]:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    rows = await bookings.applicant_bookings(call.scope, [applicant.id])
    return [booking_out(b, applicant) for b in rows]


@api.route(
    "POST",
    "/bookings/{booking_id}/move",
    summary="Move a booking to another session (the old seat is kept until the new is taken)",
    tags=("bookings",),
    permission="bookings.write",
    body=MoveIn,
    response=BookingOut,
)
async def move(call: Call) -> BookingOut:
    moved = await move_booking(
        call.scope, call.staff, call.path("booking_id"), call.body.session_id, call.request.app
    )
    return booking_out(moved)


@api.route(
    "DELETE",
    "/bookings/{booking_id}",
    summary="Remove a booking (an applicant left without a seat goes back to invited)",
    tags=("bookings",),
    permission="bookings.write",
)
async def remove(call: Call) -> None:
    booking = await call.scope.get(Booking, call.path("booking_id"), what="booking")
    await refuse_if_finalized(call.scope, booking.session_id)
    await bookings.remove(call.scope, call.staff, booking.id)
