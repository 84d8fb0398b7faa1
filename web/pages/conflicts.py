"""The conflicts-of-interest page: applicant and interviewer pairs that must never meet."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.errors import AppError, Conflict, NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Staff
from portal.permissions import can_switch
from rooms import conflicts
from web.conflicts import ProgramParties
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.session import Identity

NOTICES = {"added": "Conflict of interest recorded.", "removed": "Conflict of interest removed."}


async def conflicts_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "conflicts.read")
    return await _render(request, identity, {})


async def _render(
    request: web.Request,
    identity: Identity,
    draft: dict[str, str],
    error: AppError | None = None,
) -> web.Response:
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        pairs = await conflicts.list_conflicts(scope)
        applicants = await scope.all(Applicant)
        staff = await scope.all(Staff)
    applicant_names = {a.id: f"{a.last_name}, {a.first_name}" for a in applicants}
    staff_names = {s.id: s.name for s in staff}
    rows = sorted(
        pairs,
        key=lambda c: (applicant_names.get(c.applicant_id, ""), staff_names.get(c.staff_id, "")),
    )
    together = request.query.get("together", "0")
    context: dict[str, Any] = {
        **shell_context(identity),
        "title": "Conflicts of interest",
        "conflicts": rows,
        "applicant_names": applicant_names,
        "staff_names": staff_names,
        "applicants": sorted(applicants, key=lambda a: (a.last_name, a.first_name)),
        "interviewers": sorted(
            (s for s in staff if s.active and can_switch(s.role, "interviewer")),
            key=lambda s: s.name,
        ),
        "draft": draft,
        "error": error,
        "error_id": f"conflict-{error.field}" if error and error.field else None,
        "notice": NOTICES.get(request.query.get("notice", "")),
        "together": int(together) if together.isdigit() else 0,
    }
    return render(request, "conflicts/list.html", context, status=error.status if error else 200)


async def add_conflict(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "conflicts.write")
    posted = await request.post()
    draft = {k: v for k, v in posted.items() if isinstance(v, str)}
    spec = conflicts.ConflictSpec(
        draft.get("applicant_id", ""), draft.get("staff_id", ""), draft.get("reason")
    )
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            conflict = await conflicts.add_conflict(scope, ProgramParties(scope), spec)
            record(db, identity.actor, "conflict.create", "conflict_of_interest", conflict.id)
            together = await conflicts.scheduled_meetings(scope, spec.applicant_id, spec.staff_id)
    except (ValidationFailed, NotFound, Conflict) as exc:
        return await _render(request, identity, draft, exc)
    raise web.HTTPSeeOther(f"/conflicts?notice=added&together={together}")


async def remove_conflict(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "conflicts.write")
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        conflict = await conflicts.remove_conflict(scope, request.match_info["conflict_id"])
        record(db, identity.actor, "conflict.delete", "conflict_of_interest", conflict.id)
    raise web.HTTPSeeOther("/conflicts?notice=removed")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/conflicts", conflicts_page)
    app.router.add_post("/conflicts", add_conflict)
    app.router.add_post("/conflicts/{conflict_id}/delete", remove_conflict)
