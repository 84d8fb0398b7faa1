"""Everything the applicant's pages show, in one read: sessions with seats left, their seats
and waitlist places, offers, invitations and itineraries, with times in the program's and in
the applicant's own time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from core.scoping import ProgramScope
from portal import invitations, scheduling
from portal.bookings import SessionSeats, occupancy
from portal.models import Applicant, Program
from portal.models_mail import WaitlistOffer
from rooms.models import InterviewSession
from web.booking_rules import session_info
from web.schedules import applicant_schedule, changes_for

SEES_SESSIONS = frozenset({"invited", "scheduled"})


def zone_of(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def clock_time(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %b} {local.day}, {local:%H:%M} {local.tzname()}"


class SessionRow(BaseModel):
    id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    program_time: str
    applicant_time: str | None
    capacity: int
    seats_left: int
    full: bool
    closed: str | None
    deadline: str
    waitlist_mode: str
    waitlist_length: int
    my_status: str | None
    my_booking_id: str | None
    my_position: int | None


class LineOut(BaseModel):
    round: int
    program_time: str
    applicant_time: str | None
    room: str


class InterviewOut(BaseModel):
    session: SessionRow
    booking_id: str
    published: bool
    lines: list[LineOut]


class OfferOut(BaseModel):
    id: str
    session_id: str
    session_name: str
    mode: str
    expires_at: datetime | None
    respond_by: str | None


class InvitationOut(BaseModel):
    id: str
    status: str
    response: str | None
    sent_at: datetime | None
    created_at: datetime


class ApplicantView(BaseModel):
    applicant_id: str
    name: str
    status: str
    program: str
    program_timezone: str
    applicant_timezone: str | None
    self_scheduling: bool
    preference_window_until: datetime | None
    preference_window_open: bool
    can_choose: bool
    why_not: str | None
    sessions: list[SessionRow]
    confirmed: list[InterviewOut]
    waitlisted: list[SessionRow]
    offers: list[OfferOut]
    invitations: list[InvitationOut]
    choices: list[str]
    changes: list[str]


def why_not_choosing(status: str) -> str | None:
    if status in SEES_SESSIONS:
        return None
    if status in ("candidate", "waitlist"):
        return "Interview dates appear here once the program invites you."
    return f"Your status is {status.replace('_', ' ')}; contact the program to change it."


async def applicant_view(scope: ProgramScope, applicant_id: str, now: datetime) -> ApplicantView:
    applicant = await scope.get(Applicant, applicant_id, what="applicant")
    program = await scope.db.get(Program, scope.program_id)
    assert program is not None
    rules = scheduling.rules_of(program.options or {})
    program_zone = zone_of(program.timezone) or ZoneInfo("UTC")
    own_zone = zone_of(applicant.timezone)
    mine = {b.session_id: b for b in await scheduling.bookings_of(scope, applicant.id)}
    rows = await scope.all(InterviewSession)
    shown = [s for s in rows if s.id in mine or (s.visible and applicant.status in SEES_SESSIONS)]
    shown.sort(key=lambda s: (s.date, s.start_time, s.name))
    infos = {s.id: await session_info(scope, s) for s in shown}
    counts = {
        o.session.id: o
        for o in await occupancy(
            scope, [SessionSeats(i.id, i.name, i.capacity) for i in infos.values()]
        )
    }
    session_rows: dict[str, SessionRow] = {}
    for session_id, info in infos.items():
        booking = mine.get(session_id)
        left = await scheduling.seats_left(scope, info, now, for_applicant=applicant.id)
        # The program's time for a session is the one it was set in: the session's zone.
        session_zone = zone_of(info.timezone) or program_zone
        session_rows[session_id] = SessionRow(
            id=info.id,
            name=info.name,
            starts_at=info.starts_at,
            ends_at=info.ends_at,
            timezone=info.timezone,
            program_time=clock_time(info.starts_at, session_zone),
            applicant_time=clock_time(info.starts_at, own_zone) if own_zone else None,
            capacity=info.capacity,
            seats_left=left,
            full=left <= 0,
            closed=scheduling.closed_reason(rules, info, now),
            deadline=clock_time(scheduling.deadline_of(rules, info), session_zone),
            waitlist_mode=rules.mode_for(info.id),
            waitlist_length=counts[session_id].waitlisted,
            my_status=booking.status if booking else None,
            my_booking_id=booking.id if booking else None,
            my_position=booking.position if booking and booking.status == "waitlisted" else None,
        )
    schedules = {s.session.id: s for s in await applicant_schedule(scope, applicant.id)}
    confirmed = []
    for session_id, booking in mine.items():
        if booking.status != "scheduled" or session_id not in session_rows:
            continue
        schedule = schedules.get(session_id)
        session_zone = zone_of(session_rows[session_id].timezone) or program_zone
        lines = [
            LineOut(
                round=line.round,
                program_time=clock_time(line.starts_at, session_zone),
                applicant_time=clock_time(line.starts_at, own_zone) if own_zone else None,
                room=line.room,
            )
            for line in (schedule.lines if schedule else ())
        ]
        confirmed.append(
            InterviewOut(
                session=session_rows[session_id],
                booking_id=booking.id,
                published=bool(schedule and schedule.published),
                lines=lines,
            )
        )
    confirmed.sort(key=lambda i: i.session.starts_at)
    offers = []
    for offer in await scope.all(
        WaitlistOffer, WaitlistOffer.applicant_id == applicant.id, WaitlistOffer.status == "open"
    ):
        if offer.expires_at is not None and offer.expires_at <= now:
            continue
        offered = infos.get(offer.session_id)
        offers.append(
            OfferOut(
                id=offer.id,
                session_id=offer.session_id,
                session_name=offered.name if offered else "",
                mode=offer.mode,
                expires_at=offer.expires_at,
                respond_by=clock_time(offer.expires_at, program_zone) if offer.expires_at else None,
            )
        )
    invites = [
        InvitationOut(
            id=i.id,
            status=i.status,
            response=i.response,
            sent_at=i.sent_at,
            created_at=i.created_at,
        )
        for i in await invitations.of_applicant(scope, applicant.id)
        if invitations.visible_to_applicant(i, now)
    ]
    return ApplicantView(
        applicant_id=applicant.id,
        name=applicant.display_name,
        status=applicant.status,
        program=program.name,
        program_timezone=program.timezone,
        applicant_timezone=applicant.timezone if own_zone else None,
        self_scheduling=rules.self_scheduling,
        preference_window_until=rules.preferences_close_at,
        preference_window_open=rules.preference_window_open(now),
        can_choose=applicant.status == "invited",
        why_not=why_not_choosing(applicant.status),
        sessions=[session_rows[s.id] for s in shown if s.visible],
        confirmed=confirmed,
        waitlisted=[
            session_rows[sid]
            for sid, b in mine.items()
            if b.status == "waitlisted" and sid in session_rows
        ],
        offers=offers,
        invitations=invites,
        choices=[c.session_id for c in await scheduling.choices_of(scope, applicant.id)],
        changes=[c.message for c in await changes_for(scope, applicant_id=applicant.id)],
    )
