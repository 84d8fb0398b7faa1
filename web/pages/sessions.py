"""Sessions pages: list, create and edit with rooms, copy, assign applicants, the itinerary."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal import bookings
from portal.audit import record
from portal.models import Applicant
from rooms import itineraries
from rooms.models import InterviewSession, ItineraryChange, Room
from rooms.sessions import (
    copy_session,
    delete_room,
    interviewers_by_room,
    rooms_of,
    save_room,
    save_session,
)
from web.api.bookings import assign
from web.api.finalize import announce_itinerary
from web.api.sessions import (
    CopyIn,
    RoomIn,
    SessionIn,
    describe_itinerary,
    describe_session,
    room_spec,
)
from web.keys import CLOCK, DB, SETTINGS
from web.pages.common import shell_context, staff_identity
from web.pages.forms_input import form_errors, session_form_values
from web.render import render
from web.session import Identity
from web.session_data import (
    active_staff_names,
    applicant_names,
    booked_applicant_ids,
    form_ids,
    form_names,
)

# A form of the session page: (scope, identity, session, form) → the notice to show.
SessionAction = Callable[[ProgramScope, Identity, InterviewSession, Any], Awaitable[str]]
TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "UTC",
)


async def sessions_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        rows = await scope.all(InterviewSession)
        rows.sort(key=lambda s: (s.date, s.start_time, s.name))
        described = [await describe_session(scope, s) for s in rows]
    return render(
        request,
        "sessions/list.html",
        {
            **shell_context(identity),
            "title": "Sessions",
            "sessions": described,
        },
    )


async def new_session_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    return _session_form(request, identity, values={}, error=None)


def _session_form(
    request: web.Request,
    identity: Identity,
    values: dict[str, Any],
    error: AppError | None,
    status: int = 200,
) -> web.StreamResponse:
    return render(
        request,
        "sessions/new.html",
        {
            **shell_context(identity),
            "title": "New session",
            "values": values,
            "error": error,
            "timezones": TIMEZONES,
        },
        status=status,
    )


async def create_session_submit(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    form = await request.post()
    values = session_form_values(form)
    try:
        body = SessionIn.model_validate(values)
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            session = await save_session(
                scope, body.spec(), staff_names=await active_staff_names(scope)
            )
            record(db, identity.actor, "session.create", "session", session.id)
    except (ValidationError, AppError) as exc:
        return _session_form(request, identity, values, form_errors(exc), status=422)
    raise web.HTTPSeeOther(f"/sessions/{session.id}")


async def _detail_context(db: AsyncSession, identity: Identity, session_id: str) -> dict[str, Any]:
    scope = ProgramScope(db, identity.actor.program_id)
    session = await scope.get(InterviewSession, session_id, what="session")
    described = await describe_session(scope, session)
    staff = await active_staff_names(scope)
    booked_ids = await booked_applicant_ids(scope, session.id)
    names = await applicant_names(scope)
    candidates = await scope.all(
        Applicant, Applicant.status.in_(("invited", "scheduled", "waitlist", "candidate"))
    )
    booked_elsewhere = {
        b.applicant_id
        for b in await bookings.applicant_bookings(scope, [a.id for a in candidates])
        if b.status == "scheduled"
    }
    return {
        "session": described,
        "staff": staff,
        "forms": await form_names(scope),
        "booked": [(a, names.get(a, "")) for a in booked_ids],
        # Two applicants may share a name: the email tells them apart.
        "assignable": [
            (a.id, f"{a.display_name} — {a.email}")
            for a in sorted(
                (a for a in candidates if a.id not in booked_elsewhere),
                key=lambda a: (a.display_name.casefold(), a.email.casefold()),
            )
        ],
        "itinerary": await itineraries.current(scope, session.id),
        "title": described.name,
    }


async def session_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    async with request.app[DB]() as db:
        context = await _detail_context(db, identity, request.match_info["session_id"])
    notice = request.query.get("notice")
    return render(
        request,
        "sessions/detail.html",
        {
            **shell_context(identity),
            **context,
            "error": None,
            "values": None,
            "notice": notice,
            "timezones": TIMEZONES,
        },
    )


async def _detail_with_error(
    request: web.Request,
    identity: Identity,
    error: AppError,
    section: str,
    values: dict[str, Any] | None = None,
) -> web.StreamResponse:
    async with request.app[DB]() as db:
        context = await _detail_context(db, identity, request.match_info["session_id"])
    return render(
        request,
        "sessions/detail.html",
        {
            **shell_context(identity),
            **context,
            "error": error,
            "error_section": section,
            "values": values,
            "notice": None,
            "timezones": TIMEZONES,
        },
        status=error.status if error.status >= 400 else 422,
    )


async def session_action(request: web.Request) -> web.StreamResponse:
    """One POST endpoint per session page; `action` names the form that was sent."""
    identity = staff_identity(request, "sessions.write")
    session_id = request.match_info["session_id"]
    form = await request.post()
    action = str(form.get("action", ""))
    handlers: dict[str, SessionAction] = {
        "update": _update,
        "add_room": _add_room,
        "edit_room": _edit_room,
        "delete_room": _delete_room,
        "copy": _copy,
        "assign": functools.partial(_assign, app=request.app),
    }
    if action not in handlers:
        raise web.HTTPBadRequest(text="Unknown action")
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            session = await scope.get(InterviewSession, session_id, what="session")
            notice = await handlers[action](scope, identity, session, form)
    except ValidationError as exc:
        return await _detail_with_error(
            request,
            identity,
            form_errors(exc),
            action,
            session_form_values(form) if action == "update" else None,
        )
    except AppError as exc:
        return await _detail_with_error(
            request,
            identity,
            exc,
            action,
            session_form_values(form) if action == "update" else None,
        )
    raise web.HTTPSeeOther(f"/sessions/{session_id}?notice={notice}")


async def _update(
    scope: ProgramScope, identity: Identity, session: InterviewSession, form: Any
) -> str:
    body = SessionIn.model_validate(session_form_values(form))
    booked = len(await booked_applicant_ids(scope, session.id))
    await save_session(
        scope, body.spec(), session, booked=booked, staff_names=await active_staff_names(scope)
    )
    record(scope.db, identity.actor, "session.update", "session", session.id)
    return "saved"


def _room_body(form: Any) -> RoomIn:
    return RoomIn.model_validate(
        {
            "name": str(form.get("name", "")).strip(),
            "interviewer_ids": [str(v) for v in form.getall("interviewer_ids", [])],
            "external_url": str(form.get("external_url", "")).strip() or None,
            "scoring_form_id": str(form.get("scoring_form_id", "")) or None,
        }
    )


async def _add_room(
    scope: ProgramScope, identity: Identity, session: InterviewSession, form: Any
) -> str:
    await save_room(
        scope,
        session,
        room_spec(_room_body(form)),
        staff_names=await active_staff_names(scope),
        known_forms=await form_ids(scope),
    )
    return "room-added"


async def _edit_room(
    scope: ProgramScope, identity: Identity, session: InterviewSession, form: Any
) -> str:
    room = await scope.get(Room, str(form.get("room_id", "")), what="room")
    await save_room(
        scope,
        session,
        room_spec(_room_body(form)),
        room,
        staff_names=await active_staff_names(scope),
        known_forms=await form_ids(scope),
    )
    return "room-saved"


async def _delete_room(
    scope: ProgramScope, identity: Identity, session: InterviewSession, form: Any
) -> str:
    room = await scope.get(Room, str(form.get("room_id", "")), what="room")
    await delete_room(scope, room)
    return "room-removed"


async def _copy(
    scope: ProgramScope, identity: Identity, session: InterviewSession, form: Any
) -> str:
    raw = [d.strip() for d in str(form.get("dates", "")).replace(",", " ").split() if d.strip()]
    body = CopyIn.model_validate({"dates": raw})
    copies = await copy_session(scope, session, body.dates, await active_staff_names(scope))
    for c in copies:
        record(scope.db, identity.actor, "session.copy", "session", c.id, source=session.id)
    return f"copied-{len(copies)}"


async def _assign(
    scope: ProgramScope,
    identity: Identity,
    session: InterviewSession,
    form: Any,
    *,
    app: web.Application,
) -> str:
    ids = [str(v) for v in form.getall("applicant_ids", [])]
    if not ids:
        raise ValidationFailed("Choose at least one applicant.", field="applicant_ids")
    await assign(scope, identity.actor, session.id, ids, app)  # each is emailed
    return f"assigned-{len(ids)}"


async def itinerary_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    view = request.query.get("view", "room")
    async with request.app[DB]() as db:
        context = await _itinerary_context(db, identity, request.match_info["session_id"])
    return render(
        request,
        "sessions/itinerary.html",
        {
            **shell_context(identity),
            **context,
            "view": view,
            "error": None,
            "notice": request.query.get("notice"),
        },
    )


async def _itinerary_context(
    db: AsyncSession, identity: Identity, session_id: str
) -> dict[str, Any]:
    scope = ProgramScope(db, identity.actor.program_id)
    session = await scope.get(InterviewSession, session_id, what="session")
    described = await describe_session(scope, session)
    itinerary = await itineraries.current(scope, session.id)
    out = await describe_itinerary(scope, itinerary) if itinerary else None
    rooms = await rooms_of(scope, session.id)
    staff_by_room = await interviewers_by_room(scope, session.id)
    staff = await active_staff_names(scope)
    cells: dict[tuple[int, str], str] = {}
    names: dict[str, str] = {}
    if out:
        for slot in out.slots:
            cells[(slot.round, slot.room_id)] = slot.applicant_id
            names[slot.applicant_id] = slot.applicant_name
    changes = []
    if itinerary is not None:
        changes = sorted(
            await scope.all(
                ItineraryChange,
                ItineraryChange.itinerary_id == itinerary.id,
                ItineraryChange.applicant_id.is_not(None),
            ),
            key=lambda c: c.created_at,
            reverse=True,
        )
    room_names = {r.id: r.name for r in rooms}
    by_applicant = {
        a: [
            room_names.get(cells.get((r, room.id), ""), "")
            for r in range(1, described.rounds + 1)
            for room in rooms
            if cells.get((r, room.id)) == a
        ]
        for a in names
    }
    return {
        "session": described,
        "itinerary": out,
        "rooms": rooms,
        "rounds": list(range(1, described.rounds + 1)),
        "cells": cells,
        "names": dict(sorted(names.items(), key=lambda kv: kv[1])),
        "room_names": room_names,
        "staff_by_room": {r: [staff.get(s, "") for s in ids] for r, ids in staff_by_room.items()},
        "by_applicant": by_applicant,
        "changes": changes,
        "title": f"Itinerary · {described.name}",
    }


async def itinerary_action(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "itinerary.write")
    session_id = request.match_info["session_id"]
    form = await request.post()
    action = str(form.get("action", ""))
    clock = request.app[CLOCK]
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            session = await scope.get(InterviewSession, session_id, what="session")
            names = await applicant_names(scope)
            if action == "generate":
                booked = await booked_applicant_ids(scope, session.id)
                itinerary, _ = await itineraries.generate(scope, session, booked, clock, names)
                record(db, identity.actor, "itinerary.generate", "itinerary", itinerary.id)
                notice = "generated"
            elif action == "publish":
                current = await itineraries.current(scope, session.id)
                if current is None:
                    raise AppError("Generate an itinerary first.", code="no_itinerary")
                await itineraries.publish(scope, current, clock)
                record(db, identity.actor, "itinerary.publish", "itinerary", current.id)
                await announce_itinerary(scope, session.id, request.app)
                notice = "published"
            elif action in ("swap", "move"):
                current = await itineraries.current(scope, session.id)
                if current is None:
                    raise AppError("Generate an itinerary first.", code="no_itinerary")
                edit = _edit_from(form, action)
                await itineraries.apply_edit(scope, session, current, edit, clock, names)
                record(
                    db,
                    identity.actor,
                    f"itinerary.{action}",
                    "itinerary",
                    current.id,
                    round=edit.round,
                )
                notice = action + "ped" if action == "swap" else "moved"
            else:
                raise web.HTTPBadRequest(text="Unknown action")
    except AppError as exc:
        async with request.app[DB]() as db:
            context = await _itinerary_context(db, identity, session_id)
        return render(
            request,
            "sessions/itinerary.html",
            {
                **shell_context(identity),
                **context,
                "view": "room",
                "error": exc,
                "notice": None,
            },
            status=exc.status,
        )
    raise web.HTTPSeeOther(f"/sessions/{session_id}/itinerary?notice={notice}")


def _edit_from(form: Any, action: str) -> itineraries.Edit:
    text = str(form.get("round", ""))
    if not re.fullmatch(r"[0-9]{1,3}", text):
        raise ValidationFailed("Choose a round.", field="round")
    round_number = int(text)
    applicant = str(form.get("applicant_id", ""))
    if not applicant:
        raise ValidationFailed("Choose an applicant.", field="applicant_id")
    if action == "swap":
        other = str(form.get("other_applicant_id", ""))
        if not other or other == applicant:
            raise ValidationFailed(
                "Choose a different applicant to swap with.", field="other_applicant_id"
            )
        return itineraries.Edit("swap", round_number, applicant, other_applicant_id=other)
    return itineraries.Edit("move", round_number, applicant, room_id=str(form.get("room_id", "")))


INSTRUCTION_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".txt": "text/plain",
}
MAX_INSTRUCTIONS_BYTES = 10 * 1024 * 1024


async def upload_instructions(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.write")
    session_id = request.match_info["session_id"]
    # The CSRF check has already read the form; aiohttp keeps it, files included.
    form = await request.post()
    upload = form.get("file")
    data = b""
    filename = ""
    if isinstance(upload, FileField):
        filename = Path(upload.filename or "").name
        data = upload.file.read(MAX_INSTRUCTIONS_BYTES + 1)
    suffix = Path(filename).suffix.lower()
    error = None
    if not data:
        error = ValidationFailed("Choose a file to upload.", field="file")
    elif len(data) > MAX_INSTRUCTIONS_BYTES:
        error = ValidationFailed("The file is larger than 10 MB.", field="file")
    elif suffix not in INSTRUCTION_TYPES:
        error = ValidationFailed("Upload a PDF, Word (.docx) or text file.", field="file")
    if error is not None:
        return await _detail_with_error(request, identity, error, "instructions")
    folder = request.app[SETTINGS].var_dir / "uploads" / "instructions"
    folder.mkdir(parents=True, exist_ok=True)
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        session = await scope.get(InterviewSession, session_id, what="session")
        stored = f"{session.id}{suffix}"
        (folder / stored).write_bytes(data)
        session.instructions_file = stored
        record(db, identity.actor, "session.instructions", "session", session.id, file=filename)
    raise web.HTTPSeeOther(f"/sessions/{session_id}?notice=instructions-uploaded")


async def download_instructions(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        session = await scope.get(
            InterviewSession, request.match_info["session_id"], what="session"
        )
    if not session.instructions_file:
        raise NotFound("This session has no interviewer instructions.")
    path = request.app[SETTINGS].var_dir / "uploads" / "instructions" / session.instructions_file
    if not path.exists():
        raise NotFound("The instructions file is missing.")
    suffix = path.suffix.lower()
    return web.Response(
        body=path.read_bytes(),
        content_type=INSTRUCTION_TYPES.get(suffix, "application/octet-stream"),
        headers={"Content-Disposition": f'inline; filename="instructions{suffix}"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/sessions/{session_id}/instructions", upload_instructions)
    app.router.add_get("/sessions/{session_id}/instructions", download_instructions)
    app.router.add_get("/sessions", sessions_page)
    app.router.add_get("/sessions/new", new_session_page)
    app.router.add_post("/sessions/new", create_session_submit)
    app.router.add_get("/sessions/{session_id}", session_page)
    app.router.add_post("/sessions/{session_id}", session_action)
    app.router.add_get("/sessions/{session_id}/itinerary", itinerary_page)
    app.router.add_post("/sessions/{session_id}/itinerary", itinerary_action)
