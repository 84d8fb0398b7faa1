"""Reports pages."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def reports_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "reports.read")
    async with request.app[DB]() as db:
        ProgramScope(db, identity.actor.program_id)
    context = {**shell_context(identity), "title": "Reports"}
    return render(request, "sections/reports.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
