"""Joining live rooms: who gets which role and which first room, the join token, and the hub
built into the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import socketio
from aiohttp import web
from pydantic import BaseModel, Field

from core.errors import Conflict, Forbidden, NotFound
from core.scoping import ProgramScope
from media.sfu import Sfu
from portal.models import Booking
from portal.permissions import Actor
from rooms import itineraries
from rooms.models import Interview, InterviewSession, MeetingRoom, Room, RoomInterviewer
from signaling.grants import JoinGrant, issue_join_token
from signaling.hub import NAMESPACE, LiveHub
from signaling.ice import client_ice_servers
from signaling.server import LiveServer
from web.api.framework import Api, Call
from web.forwarding import owned_by
from web.keys import CLOCK, METRICS, SETTINGS, TOKENS

api = Api()
HUB = web.AppKey("hub", LiveHub)
# Where TimeTrack says an applicant belongs now; set by the day registry when it runs.
PLACEMENT: web.AppKey[Callable[[str, str], tuple[bool, str | None]]] = web.AppKey("placement")
SIO = web.AppKey("sio", socketio.AsyncServer)


class JoinIn(BaseModel):
    room_id: str | None = Field(default=None, description="observers only: the room to watch")


class JoinOut(BaseModel):
    token: str
    namespace: str
    url: str
    participant_id: str
    role: str
    room_key: str
    room_name: str
    mode: str
    external_url: str | None = None
    ice_servers: list[dict[str, object]]


def room_key(session_id: str, room_id: str) -> str:
    return f"{session_id}:{room_id}"


def waiting_room_key(session_id: str, person: str) -> str:
    # A room of one: the applicant waits there until the clock or a coordinator moves them.
    return f"{session_id}:waiting:{person}"


async def _first_room(
    scope: ProgramScope, session: InterviewSession, applicant_id: str
) -> Room | None:
    itinerary = await itineraries.current(scope, session.id)
    if itinerary is None or itinerary.status != "published":
        return None
    rows = await scope.all(
        Interview, Interview.itinerary_id == itinerary.id, Interview.applicant_id == applicant_id
    )
    if not rows:
        return None
    first = min(rows, key=lambda r: r.round_number)
    return await scope.get(Room, first.room_id)


Placement = Callable[[str, str], tuple[bool, str | None]]


async def grant_for_session(
    scope: ProgramScope,
    actor: Actor,
    session: InterviewSession,
    body: JoinIn,
    placement: Placement | None = None,
) -> tuple[JoinGrant, str | None]:
    """The role and first room of `actor` in `session`; raises when they have no place there."""
    if actor.kind == "applicant":
        booked = await scope.all(
            Booking,
            Booking.session_id == session.id,
            Booking.applicant_id == actor.id,
            Booking.status == "scheduled",
        )
        if not booked:
            raise Forbidden("You are not booked into this session.", code="not_booked")
        running, room_id = placement(session.id, actor.id) if placement else (False, None)
        if running:
            room = await scope.get(Room, room_id) if room_id else None
        else:
            room = await _first_room(scope, session, actor.id)
        key = room_key(session.id, room.id) if room else waiting_room_key(session.id, actor.id)
        name = room.name if room else "Waiting room"
        return JoinGrant(
            "applicant", actor.id, actor.name, "applicant", actor.program_id, session.id, key, name
        ), room.external_url if room else None
    assigned = await scope.db.execute(
        scope.select(Room)
        .join(RoomInterviewer, RoomInterviewer.room_id == Room.id)
        .where(Room.session_id == session.id, RoomInterviewer.staff_id == actor.id)
    )
    room = assigned.scalars().first()
    if body.room_id is not None:
        if actor.role not in ("director", "coordinator"):
            raise Forbidden("Only coordinators can join another room as an observer.")
        watched = await scope.get(Room, body.room_id, what="room")
        if watched.session_id != session.id:
            raise NotFound("No room with that id in this session.", field="room_id")
        return JoinGrant(
            "staff",
            actor.id,
            actor.name,
            "observer",
            actor.program_id,
            session.id,
            room_key(session.id, watched.id),
            watched.name,
        ), watched.external_url
    if room is not None:
        return JoinGrant(
            "staff",
            actor.id,
            actor.name,
            "interviewer",
            actor.program_id,
            session.id,
            room_key(session.id, room.id),
            room.name,
        ), room.external_url
    if actor.role in ("director", "coordinator"):
        return JoinGrant(
            "staff",
            actor.id,
            actor.name,
            "coordinator",
            actor.program_id,
            session.id,
            f"{session.id}:coordinators",
            "Coordinators",
        ), None
    raise Forbidden("You have no room in this session.", code="no_room")


@api.route(
    "POST",
    "/sessions/{session_id}/join",
    summary="A join token for a session's live rooms",
    tags=("live",),
    auth="any",
    body=JoinIn,
    response=JoinOut,
)
@owned_by("session_id")
async def join_session(call: Call) -> JoinOut:
    assert call.actor is not None
    session = await call.scope.get(InterviewSession, call.path("session_id"), what="session")
    if session.mode == "scoring-only":
        raise Conflict("This session has no live rooms (scoring only).", code="no_live_rooms")
    days = call.request.app.get(PLACEMENT)
    grant, external_url = await grant_for_session(call.scope, call.actor, session, call.body, days)
    return _join_out(call, grant, session.mode, external_url)


@api.route(
    "POST",
    "/meeting-rooms/{room_id}/join",
    summary="A join token for a meeting room",
    tags=("live",),
    auth="any",
    response=JoinOut,
)
async def join_meeting_room(call: Call) -> JoinOut:
    actor = call.actor
    assert actor is not None
    meeting = await call.scope.get(MeetingRoom, call.path("room_id"), what="meeting room")
    audience = meeting.audience
    if actor.kind == "applicant" and audience == "staff":
        raise Forbidden("This meeting room is for staff.", code="staff_only")
    if (
        actor.kind == "staff"
        and audience == "applicants"
        and actor.role not in ("director", "coordinator")
    ):
        raise Forbidden("This meeting room is for applicants.", code="applicants_only")
    scope_id = f"meeting:{meeting.id}"
    grant = JoinGrant(
        actor.kind,
        actor.id,
        actor.name,
        "participant",
        actor.program_id,
        scope_id,
        scope_id,
        meeting.name,
    )
    mode = "external" if meeting.external_url else "native"
    return _join_out(call, grant, mode, meeting.external_url)


def _join_out(call: Call, grant: JoinGrant, mode: str, external_url: str | None) -> JoinOut:
    app = call.request.app
    settings = app[SETTINGS]
    return JoinOut(
        token=issue_join_token(app[TOKENS], grant),
        namespace=NAMESPACE,
        url=settings.public_url,
        participant_id=grant.participant_id,
        role=grant.role,
        room_key=grant.room_key,
        room_name=grant.room_name,
        mode=mode,
        external_url=external_url,
        ice_servers=client_ice_servers(
            settings.ice_servers, grant.participant_id, app[CLOCK].now()
        ),
    )


def build_socketio(app: web.Application, client_manager: object | None) -> LiveHub:
    """Attaches socket.io and the live hub. Engine.io pings every 2 s and gives up after 2 s
    more, so a dead participant is noticed within 5 s. Size, nesting and refused packets:
    signaling/server.py (websocket only, messages up to 256 KB)."""
    sio = LiveServer(
        clock=app[CLOCK],
        client_manager=client_manager,
        ping_interval=2,
        ping_timeout=2,
        cors_allowed_origins=[],
    )
    settings = app[SETTINGS]
    sfu = Sfu(
        [
            {"urls": list(s.urls), "username": s.username, "credential": s.credential}
            for s in settings.ice_servers
            if not s.shared_secret
        ],
        # A quarter second between keyframe requests per source: moves and joins land sooner
        # (measured: join p95 585 -> 352 ms in bench/sfu.py) at a small cost in keyframes.
        keyframe_interval=0.25,
    )
    hub = LiveHub(tokens=app[TOKENS], sfu=sfu, clock=app[CLOCK])
    sio.register_namespace(hub)
    sio.attach(app)
    app[SIO] = sio
    app[HUB] = hub
    app.cleanup_ctx.append(_hub_lifecycle)
    return hub


async def _hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB]

    async def watch_quality() -> None:
        while True:
            await asyncio.sleep(2)
            with contextlib.suppress(Exception):
                await hub.refresh_quality()
                app[METRICS].observe_media(hub.sfu.all_stats())

    task = asyncio.create_task(watch_quality())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await hub.sfu.close()
