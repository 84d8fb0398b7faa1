"""Manual booking: coordinators put applicants into a session's seats, move and remove them.

Sessions belong to `rooms`, which `portal` does not import: callers hand us the session as a
`SessionSeats` (id, name, capacity), read under a row lock where seats are about to be taken so
that two coordinators cannot both take the last seat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Booking
from portal.people import applicants_by_id, set_status
from portal.permissions import Actor

UNBOOKABLE = frozenset({"declined", "withdrawn"})


@dataclass(frozen=True)
class SessionSeats:
    id: str
    name: str
    capacity: int


@dataclass(frozen=True)
class Occupancy:
    session: SessionSeats
    booked: int
    waitlisted: int

    @property
    def free(self) -> int:
        return max(0, self.session.capacity - self.booked)

    @property
    def full(self) -> bool:
        return self.free == 0


def full_message(session: SessionSeats, booked: int, requested: int) -> str | None:
    """Why `requested` more seats cannot be taken (None when they can)."""
    if session.capacity <= 0:
        return f"{session.name} has no seats yet (capacity 0); set its capacity first."
    free = session.capacity - booked
    if requested <= free:
        return None
    seats = "seat" if requested == 1 else "seats"
    return (
        f"{session.name} is full: {booked} of {session.capacity} seats are taken "
        f"and {requested} more {seats} were asked for ({max(0, free)} free)."
    )


async def booked_count(scope: ProgramScope, session_id: str) -> int:
    count = await scope.db.scalar(
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.program_id == scope.program_id,
            Booking.session_id == session_id,
            Booking.status == "scheduled",
        )
    )
    return int(count or 0)


async def occupancy(scope: ProgramScope, sessions: Sequence[SessionSeats]) -> list[Occupancy]:
    """Booked and waitlisted counts for each session, in one query."""
    rows = await scope.db.execute(
        select(Booking.session_id, Booking.status, func.count())
        .where(
            Booking.program_id == scope.program_id,
            Booking.session_id.in_([s.id for s in sessions]),
        )
        .group_by(Booking.session_id, Booking.status)
    )
    counts = {(session_id, status): int(n) for session_id, status, n in rows}
    return [
        Occupancy(s, counts.get((s.id, "scheduled"), 0), counts.get((s.id, "waitlisted"), 0))
        for s in sessions
    ]


async def session_bookings(scope: ProgramScope, session_id: str) -> list[tuple[Booking, Applicant]]:
    rows = await scope.db.execute(
        select(Booking, Applicant)
        .join(Applicant, Applicant.id == Booking.applicant_id)
        .where(Booking.program_id == scope.program_id, Booking.session_id == session_id)
        .order_by(Booking.status, Booking.position, Booking.created_at, Booking.id)
    )
    return [(booking, applicant) for booking, applicant in rows.tuples()]


async def applicant_bookings(scope: ProgramScope, applicant_ids: Sequence[str]) -> list[Booking]:
    return await scope.all(Booking, Booking.applicant_id.in_(list(applicant_ids)))


async def book(
    scope: ProgramScope, actor: Actor, session: SessionSeats, applicant_ids: Sequence[str]
) -> list[Booking]:
    """Gives each applicant a scheduled seat in `session`: all of them or none."""
    applicants = await applicants_by_id(scope, applicant_ids)
    for applicant in applicants:
        if applicant.status in UNBOOKABLE:
            raise Conflict(
                f"{applicant.display_name} has {applicant.status}; change their status first.",
                field="applicant_ids",
                code="not_bookable",
            )
    existing = await applicant_bookings(scope, [a.id for a in applicants])
    by_applicant = {a.id: a for a in applicants}
    waitlisted_here: dict[str, Booking] = {}
    for booking in existing:
        name = by_applicant[booking.applicant_id].display_name
        if booking.session_id == session.id and booking.status == "waitlisted":
            waitlisted_here[booking.applicant_id] = booking
        elif booking.session_id == session.id:
            raise Conflict(
                f"{name} is already booked in {session.name}.",
                field="applicant_ids",
                code="already_booked",
            )
        elif booking.status == "scheduled":
            raise Conflict(
                f"{name} already has a seat in another session; move that booking instead.",
                field="applicant_ids",
                code="already_booked",
            )
    problem = full_message(session, await booked_count(scope, session.id), len(applicants))
    if problem:
        raise Conflict(problem, field="applicant_ids", code="session_full")
    made: list[Booking] = []
    for applicant in applicants:
        booking = waitlisted_here.get(applicant.id) or scope.add(
            Booking(session_id=session.id, applicant_id=applicant.id, source="manual")
        )
        booking.status = "scheduled"
        made.append(booking)
        set_status(scope, actor, applicant, "scheduled")
    await scope.db.flush()
    for booking in made:
        record(
            scope.db,
            actor,
            "booking.create",
            "booking",
            booking.id,
            applicant_id=booking.applicant_id,
            session_id=session.id,
        )
    return made


async def move(scope: ProgramScope, actor: Actor, booking_id: str, to: SessionSeats) -> Booking:
    """Moves a booking to another session in one step: the old seat is kept until the new one
    is taken (the same transaction does both, so nobody can take the new seat in between)."""
    booking = await scope.get(Booking, booking_id, what="booking")
    if booking.session_id == to.id:
        raise ValidationFailed(
            f"This booking is already in {to.name}.", field="session_id", code="same_session"
        )
    others = await scope.all(
        Booking, Booking.applicant_id == booking.applicant_id, Booking.session_id == to.id
    )
    for other in others:
        if other.status == "scheduled":
            raise Conflict(
                f"The applicant is already booked in {to.name}.",
                field="session_id",
                code="already_booked",
            )
    problem = full_message(to, await booked_count(scope, to.id), 1)
    if problem:
        raise Conflict(problem, field="session_id", code="session_full")
    for other in others:  # a waitlist entry there is fulfilled by the move
        await scope.db.delete(other)
    await scope.db.flush()
    record(
        scope.db,
        actor,
        "booking.move",
        "booking",
        booking.id,
        applicant_id=booking.applicant_id,
        old=booking.session_id,
        new=to.id,
    )
    booking.session_id = to.id
    booking.status = "scheduled"
    booking.source = "manual"
    applicant = await scope.get(Applicant, booking.applicant_id, what="applicant")
    set_status(scope, actor, applicant, "scheduled")
    return booking


async def remove(scope: ProgramScope, actor: Actor, booking_id: str) -> Booking:
    """Releases the seat; an applicant left without any seat goes back to `invited`."""
    booking = await scope.get(Booking, booking_id, what="booking")
    record(
        scope.db,
        actor,
        "booking.delete",
        "booking",
        booking.id,
        applicant_id=booking.applicant_id,
        session_id=booking.session_id,
        status=booking.status,
    )
    await scope.db.delete(booking)
    await scope.db.flush()
    applicant = await scope.get(Applicant, booking.applicant_id, what="applicant")
    seats_left = await scope.all(
        Booking, Booking.applicant_id == applicant.id, Booking.status == "scheduled"
    )
    if applicant.status == "scheduled" and not seats_left:
        set_status(scope, actor, applicant, "invited")
    return booking
