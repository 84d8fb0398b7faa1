"""The live pages: the device check, a session's room and a meeting room.

The room pages only decide what to show before any media flows: the video room (the client in
`web/client/room.js` asks for its join token itself), a Join button for an external meeting
link, or a clear message when this person has no place there. Who may join where is decided
once, by `web.live.grant_for_session`, the same rule the join endpoint applies.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from core.errors import AppError, Conflict, Forbidden, NotFound
from core.scoping import ProgramScope
from portal.models import Program, Staff
from rooms.models import InterviewSession, MeetingRoom
from web.forwarding import owned_by
from web.keys import DB
from web.live import PLACEMENT, JoinIn, grant_for_session
from web.render import render
from web.session import Identity, current

INTERVIEW_SLOTS = 3  # an interviewer room: applicant, a second interviewer, an observer
MEETING_SLOTS = 8
GENERIC_CONTACT = "Reply to your invitation email, or call the program coordinator."

# What a person can do about each refusal (the API's message says what is wrong).
REFUSAL_HELP = {
    "not_booked": "If you expected to interview in this session, contact the program.",
    "no_room": "Ask the coordinator to assign you to a room in this session.",
    "staff_only": "This room is for the program's staff.",
    "applicants_only": "This room is for applicants.",
    "no_live_rooms": "Interviews in this session happen elsewhere; scoring is still here.",
}


@dataclass(frozen=True)
class RoomPage:
    """What the room client needs to start; rendered as data attributes."""

    kind: str  # "interview" or "meeting"
    join_url: str
    join_body: str  # JSON
    scope: str
    slots: int
    role: str
    room_name: str
    self_name: str
    leave_url: str


def _anyone(request: web.Request) -> Identity:
    identity = current(request)
    if identity is None:
        raise web.HTTPSeeOther(f"/login?next={request.path_qs}")
    return identity


def _home(identity: Identity) -> str:
    return "/applicant" if identity.actor.kind == "applicant" else "/dashboard"


def _device_check_next(value: str | None) -> str | None:
    # Only our own room pages, so the page cannot be used to bounce people elsewhere.
    if value and value.startswith("/live/") and "//" not in value:
        return value
    return None


async def _contact(db: Any, program_id: str) -> str:
    """The fallback line for when nothing works: the program's contact or a coordinator."""
    program = await db.get(Program, program_id)
    configured = (program.options or {}).get("contact") if program else None
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    scope = ProgramScope(db, program_id)
    coordinators = await scope.all(Staff, Staff.role == "coordinator")
    if coordinators:
        first = min(coordinators, key=lambda s: s.name)
        return f"Contact {first.name} ({first.email})."
    return GENERIC_CONTACT


def _unavailable(
    request: web.Request, identity: Identity, error: AppError, contact: str
) -> web.Response:
    context = {
        "title": "Room unavailable",
        "message": error.message,
        "help": REFUSAL_HELP.get(error.code, ""),
        "code": error.code,
        "home": _home(identity),
        "contact": contact,
    }
    return render(request, "live/unavailable.html", context, status=error.status)


def _external(
    request: web.Request,
    identity: Identity,
    name: str,
    url: str | None,
    contact: str,
    session_id: str | None = None,
) -> web.Response:
    """`session_id`: an applicant's page on an external-link day follows the day by itself."""
    context = {
        "title": name,
        "room_name": name,
        "external_url": url,
        "home": _home(identity),
        "contact": contact,
        "session_id": session_id if identity.actor.kind == "applicant" else None,
    }
    return render(request, "live/external.html", context)


def _room(request: web.Request, room: RoomPage, contact: str) -> web.Response:
    context = {
        "title": room.room_name,
        "room": room,
        "data": asdict(room),
        "contact": contact,
        "device_check": f"/device-check?next={request.path_qs}",
    }
    return render(request, "live/room.html", context)


async def device_check(request: web.Request) -> web.StreamResponse:
    identity = current(request)
    contact = GENERIC_CONTACT
    if identity is not None:
        async with request.app[DB]() as db:
            contact = await _contact(db, identity.actor.program_id)
    context = {
        "title": "Check your camera and microphone",
        "name": identity.actor.name if identity else "",
        "next": _device_check_next(request.query.get("next")),
        "home": _home(identity) if identity else "/",
        "contact": contact,
    }
    return render(request, "live/device_check.html", context)


@owned_by("session_id")  # its external link follows the running day's placement
async def session_room(request: web.Request) -> web.StreamResponse:
    identity = _anyone(request)
    actor = identity.actor
    watched = request.query.get("room") or None
    async with request.app[DB]() as db:
        contact = await _contact(db, actor.program_id)
        scope = ProgramScope(db, actor.program_id)
        try:
            session = await scope.get(InterviewSession, request.match_info["session_id"])
            if session.mode == "scoring-only":
                raise Conflict("This session has no live rooms.", code="no_live_rooms")
            # The running day's placement, as the join endpoint uses: after a move or a skip an
            # applicant's page (and its external link) is the room they belong in now.
            grant, external_url = await grant_for_session(
                scope, actor, session, JoinIn(room_id=watched), request.app.get(PLACEMENT)
            )
        except (NotFound, Forbidden, Conflict) as exc:
            return _unavailable(request, identity, exc, contact)
    if session.mode == "external":
        return _external(
            request, identity, grant.room_name, external_url, contact, session_id=session.id
        )
    room = RoomPage(
        kind="interview",
        join_url=f"/api/v1/sessions/{session.id}/join",
        join_body=json.dumps({"room_id": watched} if watched else {}),
        scope=session.id,
        slots=INTERVIEW_SLOTS,
        role=grant.role,
        room_name=grant.room_name,
        self_name=actor.name,
        leave_url=_home(identity),
    )
    return _room(request, room, contact)


async def meeting_room(request: web.Request) -> web.StreamResponse:
    identity = _anyone(request)
    actor = identity.actor
    async with request.app[DB]() as db:
        contact = await _contact(db, actor.program_id)
        scope = ProgramScope(db, actor.program_id)
        try:
            meeting = await scope.get(MeetingRoom, request.match_info["room_id"])
            _check_audience(identity, meeting.audience)
        except (NotFound, Forbidden) as exc:
            return _unavailable(request, identity, exc, contact)
    if meeting.external_url:
        return _external(request, identity, meeting.name, meeting.external_url, contact)
    room = RoomPage(
        kind="meeting",
        join_url=f"/api/v1/meeting-rooms/{meeting.id}/join",
        join_body="{}",
        scope=f"meeting:{meeting.id}",
        slots=MEETING_SLOTS,
        role="participant",
        room_name=meeting.name,
        self_name=actor.name,
        leave_url=_home(identity),
    )
    return _room(request, room, contact)


def _check_audience(identity: Identity, audience: str) -> None:
    # The same rule as the meeting-room join endpoint, checked early for a readable page.
    actor = identity.actor
    if actor.kind == "applicant" and audience == "staff":
        raise Forbidden("This meeting room is for staff.", code="staff_only")
    coordinating = actor.role in ("director", "coordinator")
    if actor.is_staff and audience == "applicants" and not coordinating:
        raise Forbidden("This meeting room is for applicants.", code="applicants_only")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/device-check", device_check)
    app.router.add_get("/live/sessions/{session_id}", session_room)
    app.router.add_get("/live/meeting-rooms/{room_id}", meeting_room)
