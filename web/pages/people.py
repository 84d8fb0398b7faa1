"""Staff and applicants pages."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from portal.models import Applicant, Staff
from portal.permissions import role_matrix
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def staff_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "staff.read")
    async with request.app[DB]() as db:
        rows = await ProgramScope(db, identity.actor.program_id).all(Staff)
    context = {
        **shell_context(identity),
        "title": "Staff",
        "staff": sorted(rows, key=lambda s: s.name),
        "matrix": role_matrix(),
    }
    return render(request, "sections/staff.html", context)


async def applicants_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "applicants.read")
    async with request.app[DB]() as db:
        rows = await ProgramScope(db, identity.actor.program_id).all(Applicant)
    context = {
        **shell_context(identity),
        "title": "Applicants",
        "applicants": sorted(rows, key=lambda a: (a.last_name, a.first_name)),
    }
    return render(request, "sections/applicants.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff", staff_page)
    app.router.add_get("/applicants", applicants_page)
