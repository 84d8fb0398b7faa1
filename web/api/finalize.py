"""Finalizing a session: its bookings are locked, the itinerary generated from the booked
applicants (in booking order) and published, and everyone gets theirs by email.

Publishing an itinerary without finalizing (the itinerary page's Publish, or its API) emails
the same schedules through `announce_itinerary`. Each person's email is keyed by the itinerary
version (`itinerary:<itinerary id>:<person>`), so finalizing after publishing that version
sends nothing more, and a version published again after a new Generate is a new email.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from core.clock import to_datetime
from core.errors import Conflict
from core.scoping import ProgramScope
from portal import calendar, outbox, scheduling
from portal.audit import record
from portal.models import Applicant, Staff
from portal.permissions import Actor
from rooms import itineraries
from rooms.models import Interview, InterviewSession, Itinerary
from rooms.sessions import interviewers_by_room, rooms_of, round_starts, rounds_of
from web import meeting_links
from web.booking_rules import lock_sessions, session_info
from web.jobs import wake_after_commit
from web.keys import CLOCK, SETTINGS
from web.session_data import applicant_names, booked_applicant_ids


class FinalizeOut(BaseModel):
    session_id: str
    finalized_at: datetime
    itinerary_id: str
    applicants: int
    emails: int


async def _published_itinerary(
    scope: ProgramScope, session: InterviewSession, booked: list[str], app: web.Application
) -> Itinerary:
    clock = app[CLOCK]
    current = await itineraries.current(scope, session.id)
    if current is not None and current.status == "published":
        on_it = {i.applicant_id for i in await itineraries.interviews(scope, current)}
        if on_it == set(booked):
            return current  # already published for exactly these applicants: keep the edits
    names = await applicant_names(scope)
    draft, _ = await itineraries.generate(scope, session, booked, clock, names)
    return await itineraries.publish(scope, draft, clock)


async def finalize_session(
    scope: ProgramScope, actor: Actor, session_id: str, app: web.Application
) -> FinalizeOut:
    now = to_datetime(app[CLOCK].now())
    info = (await lock_sessions(scope, [session_id]))[session_id]
    session = await scope.get(InterviewSession, session_id, what="session")
    if session.finalized_at is not None:
        raise Conflict(f"{session.name} is already finalized.", code="already_finalized")
    booked = await booked_applicant_ids(scope, session.id)
    itinerary = await _published_itinerary(scope, session, booked, app)
    session.finalized_at = now
    record(scope.db, actor, "session.finalize", "session", session.id, itinerary=itinerary.id)
    emails = await _email_itineraries(
        scope, session, info, itinerary, now, app[SETTINGS].public_url
    )
    return FinalizeOut(
        session_id=session.id,
        finalized_at=now,
        itinerary_id=itinerary.id,
        applicants=len(booked),
        emails=emails,
    )


async def announce_itinerary(scope: ProgramScope, session_id: str, app: web.Application) -> int:
    """Emails everyone on the session's published itinerary their schedule (applicants with
    the meeting rooms open to them), once per itinerary version: call it right after
    publishing, in the same transaction. Answers how many emails were queued now."""
    now = to_datetime(app[CLOCK].now())
    session = await scope.get(InterviewSession, session_id, what="session")
    itinerary = await itineraries.current(scope, session.id)
    if itinerary is None or itinerary.status != "published":
        return 0
    info = await session_info(scope, session)
    queued = await _email_itineraries(
        scope, session, info, itinerary, now, app[SETTINGS].public_url
    )
    wake_after_commit(scope.db, app)
    return queued


async def _email_itineraries(
    scope: ProgramScope,
    session: InterviewSession,
    info: scheduling.SessionInfo,
    itinerary: Itinerary,
    now: datetime,
    public_url: str,
) -> int:
    starts = round_starts(session, await rounds_of(scope, session.id))
    rooms = {r.id: r.name for r in await rooms_of(scope, session.id)}
    slots = await itineraries.interviews(scope, itinerary)
    names = await applicant_names(scope, sorted({s.applicant_id for s in slots}))
    program = await scheduling.program_name(scope)
    base = {
        "program": program,
        "session": info.name,
        "session_time": scheduling.local_time(info),
    }
    meetings = meeting_links.email_text(
        await meeting_links.for_session(scope, info, now), info.timezone, public_url
    )
    sent = 0
    by_applicant: dict[str, list[Interview]] = {}
    for slot in slots:
        by_applicant.setdefault(slot.applicant_id, []).append(slot)
    for applicant_id, own in by_applicant.items():
        applicant = await scope.find(Applicant, applicant_id)
        if applicant is None:
            continue
        lines = [
            f"Round {s.round_number}, {starts[s.round_number]:%H:%M}: {rooms.get(s.room_id, '')}"
            for s in sorted(own, key=lambda s: s.round_number)
        ]
        _, queued = await outbox.enqueue(
            scope,
            key=f"itinerary:{itinerary.id}:{applicant_id}",
            kind="itinerary",
            recipient=outbox.applicant_recipient(applicant),
            context={
                **base,
                "itinerary": "\n".join(lines) + f"\n(times in {info.timezone})",
                "meeting_rooms": meetings,
            },
            now=now,
            ics=scheduling.session_ics(info, applicant_id, now, cancel=False),
        )
        sent += queued
    staff_rooms = await interviewers_by_room(scope, session.id)
    for staff_id in sorted({s for ids in staff_rooms.values() for s in ids}):
        staff = await scope.find(Staff, staff_id)
        if staff is None or not staff.active:
            continue
        mine = [room_id for room_id, ids in staff_rooms.items() if staff_id in ids]
        lines = [
            f"Round {s.round_number}, {starts[s.round_number]:%H:%M}, "
            f"{rooms.get(s.room_id, '')}: {names.get(s.applicant_id, '')}"
            for s in slots
            if s.room_id in mine
        ]
        event = calendar.CalendarEvent(
            uid=f"session-{session.id}-{staff_id}@interviewday",
            summary=f"Interviews: {info.name}",
            starts_at=info.starts_at,
            ends_at=info.ends_at,
            timezone=info.timezone,
            sequence=int(now.timestamp()),
        )
        _, queued = await outbox.enqueue(
            scope,
            key=f"itinerary:{itinerary.id}:staff:{staff_id}",
            kind="itinerary",
            recipient=outbox.Recipient(
                staff.email, staff.name, staff.name.split(" ")[0], staff_id=staff.id
            ),
            context={**base, "itinerary": "\n".join(lines) or "(no interviews in your room)"},
            now=now,
            ics=calendar.ics(event, stamp=now),
        )
        sent += queued
    return sent
