"""The Staff page: add one or many (CSV), roles, deactivation, and "who can do what".

Applicant pages live in `web.pages.applicants`; `add_routes` registers both.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from core.errors import AppError, ValidationFailed
from core.scoping import ProgramScope
from portal import people
from portal.csv_import import CsvRejected, decode
from portal.models import ROLES, Staff
from portal.permissions import allowed, role_matrix
from web.keys import DB, PASSWORDS
from web.pages.applicants import add_routes as add_applicant_routes
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.session import Identity

STAFF_NOTICES = {
    "added": "Staff member added.",
    "imported": "Staff imported from the file.",
    "role": "Role changed.",
    "deactivated": "Account deactivated. History is kept; they can no longer log in.",
    "reactivated": "Account reactivated.",
}


async def _staff_context(request: web.Request, identity: Identity) -> dict[str, Any]:
    async with request.app[DB]() as db:
        rows = await ProgramScope(db, identity.actor.program_id).all(Staff)
    can_make_directors = allowed(identity.actor, "staff.set_director")
    return {
        **shell_context(identity),
        "title": "Staff",
        "staff": sorted(rows, key=lambda s: (not s.active, s.name.lower())),
        "matrix": role_matrix(),
        "can_manage": allowed(identity.actor, "staff.manage"),
        "assignable_roles": [r for r in ROLES if r != "director" or can_make_directors],
        "notice": STAFF_NOTICES.get(request.query.get("notice", "")),
        "count": request.query.get("n", ""),
        "error": None,
        "problems": (),
        "form": {},
        "new_password": None,
    }


async def _render_staff(
    request: web.Request, identity: Identity, status: int = 200, **extra: Any
) -> web.Response:
    context = await _staff_context(request, identity)
    context.update(extra)
    return render(request, "people/staff.html", context, status=status)


async def staff_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "staff.read")
    return await _render_staff(request, identity)


async def add_staff(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "staff.manage")
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("name", "email", "role", "password")}
    generate = form.get("generate_password") == "on"
    password = secrets.token_urlsafe(12) if generate else values["password"] or None
    try:
        if password is not None and len(password) < 10:
            raise ValidationFailed("A password needs at least 10 characters.", field="password")
        password_hash = request.app[PASSWORDS].hash(password) if password else None
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            new = people.NewStaff(values["name"], values["email"], values["role"])
            staff = await people.add_staff(scope, identity.actor, new, password_hash=password_hash)
    except AppError as exc:
        return await _render_staff(request, identity, status=exc.status, error=exc, form=values)
    if generate:
        # Shown once, on this response only: it is not stored anywhere readable.
        return await _render_staff(
            request, identity, status=201, new_password=(staff.name, staff.email, password)
        )
    raise web.HTTPSeeOther("/staff?notice=added")


async def import_staff(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "staff.manage")
    form = await request.post()
    upload = form.get("file")
    try:
        if not isinstance(upload, web.FileField):
            raise ValidationFailed("Choose a CSV file to import.", field="file")
        text = decode(upload.file.read(5 * 1024 * 1024 + 1))
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            created = await people.import_staff(scope, identity.actor, text)
    except CsvRejected as exc:
        return await _render_staff(request, identity, status=422, error=exc, problems=exc.problems)
    except AppError as exc:
        return await _render_staff(request, identity, status=exc.status, error=exc)
    raise web.HTTPSeeOther(f"/staff?notice=imported&n={len(created)}")


async def staff_role(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "staff.manage")
    form = await request.post()
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            await people.set_staff_role(
                scope, identity.actor, request.match_info["staff_id"], str(form.get("role", ""))
            )
    except AppError as exc:
        return await _render_staff(request, identity, status=exc.status, error=exc)
    raise web.HTTPSeeOther("/staff?notice=role")


async def staff_active(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "staff.manage")
    form = await request.post()
    active = form.get("active") == "1"
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            await people.set_staff_active(
                scope, identity.actor, request.match_info["staff_id"], active
            )
    except AppError as exc:
        return await _render_staff(request, identity, status=exc.status, error=exc)
    raise web.HTTPSeeOther(f"/staff?notice={'reactivated' if active else 'deactivated'}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff", staff_page)
    app.router.add_post("/staff", add_staff)
    app.router.add_post("/staff/import", import_staff)
    app.router.add_post("/staff/{staff_id}/role", staff_role)
    app.router.add_post("/staff/{staff_id}/active", staff_active)
    add_applicant_routes(app)
