"""The report queries: they read portal (applicants, bookings, staff) and rooms (sessions,
rooms, interviewers) together, so they live in `web`; the arithmetic is `portal.reports`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import distinct, func

from core.scoping import ProgramScope
from portal.models import Applicant, Booking, Staff
from portal.reports import RoomLine, SeatFill, SessionSummary, StatusCount, status_counts
from rooms.models import InterviewSession, Room, RoomInterviewer


@dataclass(frozen=True)
class SeasonReport:
    statuses: tuple[StatusCount, ...]
    sessions: tuple[SessionSummary, ...]


@dataclass(frozen=True)
class SessionReport:
    session: SessionSummary
    statuses: tuple[StatusCount, ...]
    rooms: tuple[RoomLine, ...]


async def season_report(scope: ProgramScope) -> SeasonReport:
    by_status = (
        scope.select(Applicant)
        .with_only_columns(Applicant.status, func.count())
        .group_by(Applicant.status)
    )
    counts = dict((await scope.db.execute(by_status)).tuples().all())
    sessions = await scope.all(InterviewSession)
    summaries = await _summaries(scope, sessions)
    return SeasonReport(status_counts(counts), summaries)


async def session_report(scope: ProgramScope, session_id: str) -> SessionReport:
    session = await scope.get(InterviewSession, session_id, what="session")
    (summary,) = await _summaries(scope, [session])
    booked_by_status = (
        scope.select(Applicant)
        .join(Booking, Booking.applicant_id == Applicant.id)
        .where(Booking.session_id == session.id)
        .with_only_columns(Applicant.status, func.count())
        .group_by(Applicant.status)
    )
    counts = dict((await scope.db.execute(booked_by_status)).tuples().all())
    return SessionReport(summary, status_counts(counts), await _room_lines(scope, session.id))


async def _summaries(
    scope: ProgramScope, sessions: list[InterviewSession]
) -> tuple[SessionSummary, ...]:
    ids = [s.id for s in sessions]
    seats: dict[tuple[str, str], int] = {}
    rooms: dict[str, int] = {}
    interviewers: dict[str, int] = {}
    if ids:
        seat_rows = (
            scope.select(Booking, Booking.session_id.in_(ids))
            .with_only_columns(Booking.session_id, Booking.status, func.count())
            .group_by(Booking.session_id, Booking.status)
        )
        for session_id, status, count in (await scope.db.execute(seat_rows)).tuples():
            seats[(session_id, status)] = count
        room_rows = (
            scope.select(Room, Room.session_id.in_(ids))
            .with_only_columns(Room.session_id, func.count())
            .group_by(Room.session_id)
        )
        rooms = dict((await scope.db.execute(room_rows)).tuples().all())
        interviewer_rows = (
            scope.select(Room, Room.session_id.in_(ids))
            .join(RoomInterviewer, RoomInterviewer.room_id == Room.id)
            .with_only_columns(Room.session_id, func.count(distinct(RoomInterviewer.staff_id)))
            .group_by(Room.session_id)
        )
        interviewers = dict((await scope.db.execute(interviewer_rows)).tuples().all())
    ordered = sorted(sessions, key=lambda s: (s.date, s.start_time, s.name))
    return tuple(
        SessionSummary(
            id=s.id,
            name=s.name,
            date=s.date,
            mode=s.mode,
            seats=SeatFill(
                capacity=s.capacity,
                scheduled=seats.get((s.id, "scheduled"), 0),
                waitlisted=seats.get((s.id, "waitlisted"), 0),
            ),
            rooms=rooms.get(s.id, 0),
            interviewers=interviewers.get(s.id, 0),
        )
        for s in ordered
    )


async def _room_lines(scope: ProgramScope, session_id: str) -> tuple[RoomLine, ...]:
    room_rows = await scope.db.scalars(
        scope.select(Room, Room.session_id == session_id).order_by(Room.position, Room.name)
    )
    rooms = list(room_rows.all())
    names: dict[str, list[str]] = defaultdict(list)
    if rooms:
        statement = (
            scope.select(RoomInterviewer, RoomInterviewer.room_id.in_([r.id for r in rooms]))
            .join(Staff, Staff.id == RoomInterviewer.staff_id)
            .with_only_columns(RoomInterviewer.room_id, Staff.name)
            .order_by(Staff.name)
        )
        for room_id, name in (await scope.db.execute(statement)).tuples():
            names[room_id].append(name)
    return tuple(RoomLine(r.name, tuple(names[r.id])) for r in rooms)
