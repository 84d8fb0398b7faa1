"""Scoring forms pages: the library, the editor, the preview, copy and archive."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func

from core.errors import AppError, Conflict, ValidationFailed
from core.scoping import ProgramScope
from portal.audit import record
from portal.permissions import allowed
from rooms.models import Room
from scoring import forms
from scoring.models import ScoringForm
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.pages.forms_draft import (
    KIND_LABELS,
    Draft,
    apply,
    draft_of,
    field_id,
    parse_draft,
    parse_operation,
    to_spec,
)
from web.render import render
from web.session import Identity

NOTICES = {
    "created": "Form created.",
    "in_place": "Saved. The form had no scores, so it was changed in place.",
    "new_version": "Saved as a new version. Scores already given keep the version they used.",
    "unchanged": "Nothing changed, so nothing was saved.",
    "copied": "Copied. This is a new form: changing it leaves the original alone.",
    "archived": "Form archived. It has left the library; scores and rooms keep it.",
    "restored": "Form restored to the library.",
}


def _notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("notice", ""))


async def library_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.read")
    show_archived = request.query.get("archived") == "1"
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        rows = await forms.list_forms(scope, include_archived=show_archived)
        ids = [f.id for f in rows]
        scores = await forms.score_counts(scope, ids)
        items = await forms.item_counts(scope, ids)
    context = {
        **shell_context(identity),
        "title": "Scoring Forms",
        "forms": rows,
        "scores": scores,
        "items": items,
        "show_archived": show_archived,
        "can_write": allowed(identity.actor, "forms.write"),
        "notice": _notice(request),
    }
    return render(request, "forms/library.html", context)


async def _rooms_using(scope: ProgramScope, form_id: str) -> int:
    statement = scope.select(Room, Room.scoring_form_id == form_id).with_only_columns(func.count())
    return int(await scope.db.scalar(statement) or 0)


async def _current_of(scope: ProgramScope, form: ScoringForm) -> ScoringForm | None:
    current = await scope.all(
        ScoringForm, ScoringForm.family_id == form.family_id, ScoringForm.is_current.is_(True)
    )
    return current[0] if current else None


def _editor(
    request: web.Request,
    identity: Identity,
    draft: Draft,
    *,
    form: forms.FormWithItems | None = None,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    title = "New scoring form" if form is None else f"Edit {form.form.name}"
    context = {
        **shell_context(identity),
        "title": title,
        "draft": draft,
        "loaded": form,
        "kinds": KIND_LABELS,
        "action": "/forms/new" if form is None else f"/forms/{form.form.id}",
        "error": None,
        "error_id": None,
        "announce": None,
        "focus_id": None,
        "notice": _notice(request),
        **(extra or {}),
    }
    return render(request, "forms/editor.html", context, status=status)


async def new_form_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.write")
    return _editor(request, identity, Draft())


async def edit_form_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        loaded = await forms.load_form(scope, request.match_info["form_id"])
        rooms = await _rooms_using(scope, loaded.form.id)
        versions = await forms.versions_of(scope, loaded.form.id)
        current = await _current_of(scope, loaded.form)
    editable = loaded.form.is_current and not loaded.form.archived
    if not (editable and allowed(identity.actor, "forms.write")):
        return _read_only(request, identity, loaded, current, versions)
    extra = {"rooms_using": rooms, "versions": versions}
    return _editor(request, identity, draft_of(loaded.form, loaded.items), form=loaded, extra=extra)


def _read_only(
    request: web.Request,
    identity: Identity,
    loaded: forms.FormWithItems,
    current: ScoringForm | None,
    versions: list[ScoringForm],
) -> web.Response:
    context = {
        **shell_context(identity),
        "title": loaded.form.name,
        "loaded": loaded,
        "current": current,
        "versions": versions,
        "can_write": allowed(identity.actor, "forms.write"),
        "notice": _notice(request),
    }
    return render(request, "forms/version.html", context)


async def _posted_fields(request: web.Request) -> dict[str, str]:
    posted = await request.post()
    return {key: value for key, value in posted.items() if isinstance(value, str)}


async def submit_new_form(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.write")
    fields = await _posted_fields(request)
    draft = parse_draft(fields)
    op = parse_operation(fields.get("op", ""))
    if op.verb != "save":
        return _restructured(request, identity, draft, op)
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            form = await forms.create_form(scope, to_spec(draft))
            record(db, identity.actor, "form.create", "scoring_form", form.id, name=form.name)
    except ValidationFailed as exc:
        return _invalid(request, identity, draft, exc)
    raise web.HTTPSeeOther(f"/forms/{form.id}?notice=created")


async def submit_form(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.write")
    fields = await _posted_fields(request)
    draft = parse_draft(fields)
    op = parse_operation(fields.get("op", ""))
    form_id = request.match_info["form_id"]
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        loaded = await forms.load_form(scope, form_id)
        extra = {
            "rooms_using": await _rooms_using(scope, form_id),
            "versions": await forms.versions_of(scope, form_id),
        }
    if op.verb != "save":
        return _restructured(request, identity, draft, op, loaded, extra)
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            result = await forms.save_form(scope, form_id, to_spec(draft))
            if result.outcome != "unchanged":
                action = "form.version" if result.outcome == "new_version" else "form.update"
                record(db, identity.actor, action, "scoring_form", result.form.id)
    except (ValidationFailed, Conflict) as exc:
        return _invalid(request, identity, draft, exc, loaded, extra)
    raise web.HTTPSeeOther(f"/forms/{result.form.id}?notice={result.outcome}")


def _restructured(
    request: web.Request,
    identity: Identity,
    draft: Draft,
    op: Any,
    loaded: forms.FormWithItems | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    changed, announce, focus = apply(draft, op)
    context = {**(extra or {}), "announce": announce, "focus_id": focus, "notice": None}
    return _editor(request, identity, changed, form=loaded, extra=context)


def _invalid(
    request: web.Request,
    identity: Identity,
    draft: Draft,
    exc: AppError,
    loaded: forms.FormWithItems | None = None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    context = {**(extra or {}), "error": exc, "error_id": field_id(exc.field), "notice": None}
    return _editor(request, identity, draft, form=loaded, extra=context, status=exc.status)


async def preview_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        loaded = await forms.load_form(scope, request.match_info["form_id"])
    context = {
        **shell_context(identity),
        "title": f"Preview: {loaded.form.name}",
        "loaded": loaded,
    }
    return render(request, "forms/preview.html", context)


async def copy_form(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.write")
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        source_id = request.match_info["form_id"]
        form = await forms.copy_form(scope, source_id)
        record(db, identity.actor, "form.copy", "scoring_form", form.id, source_id=source_id)
    raise web.HTTPSeeOther(f"/forms/{form.id}?notice=copied")


async def _set_archived(request: web.Request, archived: bool) -> web.StreamResponse:
    identity = staff_identity(request, "forms.write")
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        form = await forms.set_archived(scope, request.match_info["form_id"], archived)
        action = "form.archive" if archived else "form.restore"
        record(db, identity.actor, action, "scoring_form", form.id)
    raise web.HTTPSeeOther(f"/forms?notice={'archived' if archived else 'restored'}")


async def archive_form(request: web.Request) -> web.StreamResponse:
    return await _set_archived(request, True)


async def restore_form(request: web.Request) -> web.StreamResponse:
    return await _set_archived(request, False)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/forms", library_page)
    app.router.add_get("/forms/new", new_form_page)
    app.router.add_post("/forms/new", submit_new_form)
    app.router.add_get("/forms/{form_id}", edit_form_page)
    app.router.add_post("/forms/{form_id}", submit_form)
    app.router.add_get("/forms/{form_id}/preview", preview_page)
    app.router.add_post("/forms/{form_id}/copy", copy_form)
    app.router.add_post("/forms/{form_id}/archive", archive_form)
    app.router.add_post("/forms/{form_id}/restore", restore_form)
