"""Meeting rooms pages: the list with an add form, the edit form, delete.

Times are typed and shown in the program's time zone (a `datetime-local` input has none);
the database keeps UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from core.errors import NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Program
from portal.permissions import allowed
from rooms import meetings
from rooms.models import InterviewSession, MeetingRoom
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.session import Identity

AUDIENCE_LABELS = {"applicants": "Applicants", "staff": "Staff", "both": "Applicants and staff"}
NOTICES = {
    "created": "Meeting room added.",
    "updated": "Meeting room saved.",
    "deleted": "Meeting room deleted.",
}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class MeetingDraft:
    """The form's fields as typed (or as stored, shown in the program's zone)."""

    name: str = ""
    starts_at: str = ""
    ends_at: str = ""
    audience: str = "both"
    external_url: str = ""
    session_id: str = ""


def draft_of(meeting: MeetingRoom, zone: ZoneInfo) -> MeetingDraft:
    return MeetingDraft(
        name=meeting.name,
        starts_at=meeting.starts_at.astimezone(zone).strftime(LOCAL_FORMAT),
        ends_at=meeting.ends_at.astimezone(zone).strftime(LOCAL_FORMAT),
        audience=meeting.audience,
        external_url=meeting.external_url or "",
        session_id=meeting.session_id or "",
    )


def _local_time(text: str, zone: ZoneInfo, field: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"Give the {what} time as a date and time.", field=field) from None
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def to_spec(draft: MeetingDraft, zone: ZoneInfo) -> meetings.MeetingSpec:
    return meetings.MeetingSpec(
        name=draft.name,
        starts_at=_local_time(draft.starts_at, zone, "starts_at", "opening"),
        ends_at=_local_time(draft.ends_at, zone, "ends_at", "closing"),
        audience=draft.audience,
        external_url=draft.external_url,
        session_id=draft.session_id or None,
    )


async def _setting(db: Any, identity: Identity) -> tuple[ZoneInfo, list[InterviewSession]]:
    program = await db.get(Program, identity.actor.program_id)
    scope = ProgramScope(db, identity.actor.program_id)
    sessions = sorted(await scope.all(InterviewSession), key=lambda s: (s.date, s.name))
    return ZoneInfo(program.timezone if program else "UTC"), sessions


def _page(
    request: web.Request,
    identity: Identity,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    base = {
        **shell_context(identity),
        "audiences": AUDIENCE_LABELS,
        "can_write": allowed(identity.actor, "sessions.write"),
        "notice": NOTICES.get(request.query.get("notice", "")),
        "error": None,
        "error_id": None,
    }
    return render(request, template, {**base, **context}, status=status)


async def list_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    return await _list(request, identity, MeetingDraft())


async def _list(
    request: web.Request,
    identity: Identity,
    draft: MeetingDraft,
    error: ValidationFailed | NotFound | None = None,
) -> web.Response:
    async with request.app[DB]() as db:
        zone, sessions = await _setting(db, identity)
        rows = await meetings.list_meetings(ProgramScope(db, identity.actor.program_id))
    context = {
        "title": "Meeting Rooms",
        "meeting_rooms": rows,
        "sessions": sessions,
        "session_names": {s.id: s.name for s in sessions},
        "zone": zone,
        "draft": draft,
        "error": error,
        "error_id": f"meeting-{error.field}" if error else None,
    }
    return _page(
        request, identity, "meetings/list.html", context, status=error.status if error else 200
    )


async def _posted(request: web.Request) -> MeetingDraft:
    posted = await request.post()
    values = {k: v for k, v in posted.items() if isinstance(v, str)}
    return MeetingDraft(
        name=values.get("name", ""),
        starts_at=values.get("starts_at", ""),
        ends_at=values.get("ends_at", ""),
        audience=values.get("audience", "both"),
        external_url=values.get("external_url", ""),
        session_id=values.get("session_id", ""),
    )


async def create(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    draft = await _posted(request)
    try:
        async with request.app[DB]() as db, db.begin():
            zone, _ = await _setting(db, identity)
            scope = ProgramScope(db, identity.actor.program_id)
            meeting = await meetings.create_meeting(scope, to_spec(draft, zone))
            record(db, identity.actor, "meeting_room.create", "meeting_room", meeting.id)
    except (ValidationFailed, NotFound) as exc:
        return await _list(request, identity, draft, exc)
    raise web.HTTPSeeOther("/meeting-rooms?notice=created")


async def edit_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    async with request.app[DB]() as db:
        zone, _ = await _setting(db, identity)
        scope = ProgramScope(db, identity.actor.program_id)
        meeting = await scope.get(MeetingRoom, request.match_info["room_id"], what="meeting room")
    return await _edit(request, identity, meeting, draft_of(meeting, zone))


async def _edit(
    request: web.Request,
    identity: Identity,
    meeting: MeetingRoom,
    draft: MeetingDraft,
    error: ValidationFailed | NotFound | None = None,
) -> web.Response:
    async with request.app[DB]() as db:
        zone, sessions = await _setting(db, identity)
    context = {
        "title": f"Edit {meeting.name}",
        "meeting": meeting,
        "sessions": sessions,
        "zone": zone,
        "draft": draft,
        "error": error,
        "error_id": f"meeting-{error.field}" if error else None,
    }
    status = error.status if error else 200
    return _page(request, identity, "meetings/edit.html", context, status=status)


async def update(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    draft = await _posted(request)
    room_id = request.match_info["room_id"]
    async with request.app[DB]() as db:
        meeting = await ProgramScope(db, identity.actor.program_id).get(
            MeetingRoom, room_id, what="meeting room"
        )
    try:
        async with request.app[DB]() as db, db.begin():
            zone, _ = await _setting(db, identity)
            scope = ProgramScope(db, identity.actor.program_id)
            await meetings.update_meeting(scope, room_id, to_spec(draft, zone))
            record(db, identity.actor, "meeting_room.update", "meeting_room", room_id)
    except (ValidationFailed, NotFound) as exc:
        if exc.field == "id":
            raise
        return await _edit(request, identity, meeting, draft, exc)
    raise web.HTTPSeeOther("/meeting-rooms?notice=updated")


async def delete(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        meeting = await meetings.delete_meeting(scope, request.match_info["room_id"])
        record(db, identity.actor, "meeting_room.delete", "meeting_room", meeting.id)
    raise web.HTTPSeeOther("/meeting-rooms?notice=deleted")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/meeting-rooms", list_page)
    app.router.add_post("/meeting-rooms", create)
    app.router.add_get("/meeting-rooms/{room_id}", edit_page)
    app.router.add_post("/meeting-rooms/{room_id}", update)
    app.router.add_post("/meeting-rooms/{room_id}/delete", delete)
