"""A person's own schedule: the applicant's interviews and the interviewer's rooms, with the
changes made to them after publishing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.scoping import ProgramScope
from portal.models import Booking
from rooms import itineraries
from rooms.models import Interview, InterviewSession, ItineraryChange, Room, RoomInterviewer
from rooms.sessions import round_starts, rounds_of


@dataclass(frozen=True)
class ScheduleLine:
    round: int
    starts_at: datetime
    room: str


@dataclass(frozen=True)
class SessionSchedule:
    session: InterviewSession
    lines: tuple[ScheduleLine, ...]
    published: bool


async def applicant_schedule(scope: ProgramScope, applicant_id: str) -> list[SessionSchedule]:
    booked = await scope.all(
        Booking, Booking.applicant_id == applicant_id, Booking.status == "scheduled"
    )
    result = []
    for booking in booked:
        session = await scope.get(InterviewSession, booking.session_id)
        itinerary = await itineraries.current(scope, session.id)
        published = itinerary is not None and itinerary.status == "published"
        lines: list[ScheduleLine] = []
        if itinerary is not None and published:
            starts = round_starts(session, await rounds_of(scope, session.id))
            rooms = {r.id: r.name for r in await scope.all(Room, Room.session_id == session.id)}
            rows = await scope.all(
                Interview,
                Interview.itinerary_id == itinerary.id,
                Interview.applicant_id == applicant_id,
            )
            lines = [
                ScheduleLine(r.round_number, starts[r.round_number], rooms[r.room_id])
                for r in sorted(rows, key=lambda r: r.round_number)
            ]
        result.append(SessionSchedule(session, tuple(lines), published))
    return sorted(result, key=lambda s: (s.session.date, s.session.start_time))


async def changes_for(
    scope: ProgramScope, *, applicant_id: str | None = None, staff_id: str | None = None
) -> list[ItineraryChange]:
    criteria = (
        [ItineraryChange.applicant_id == applicant_id]
        if applicant_id
        else [ItineraryChange.staff_id == staff_id]
    )
    rows = await scope.all(ItineraryChange, *criteria)
    return sorted(rows, key=lambda c: c.created_at, reverse=True)[:20]


async def interviewer_rooms(
    scope: ProgramScope, staff_id: str
) -> list[tuple[Room, InterviewSession]]:
    rows = await scope.db.execute(
        scope.select(Room)
        .join(RoomInterviewer, RoomInterviewer.room_id == Room.id)
        .join(InterviewSession, InterviewSession.id == Room.session_id)
        .where(RoomInterviewer.staff_id == staff_id)
        .with_only_columns(Room, InterviewSession)
        .order_by(InterviewSession.date, InterviewSession.start_time)
    )
    return [(room, session) for room, session in rows.tuples()]
