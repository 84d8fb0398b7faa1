"""Sessions, rooms and itinerary pages."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from rooms.models import InterviewSession
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def sessions_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    async with request.app[DB]() as db:
        rows = await ProgramScope(db, identity.actor.program_id).all(InterviewSession)
    context = {
        **shell_context(identity),
        "title": "Sessions",
        "sessions": sorted(rows, key=lambda s: (s.date, s.start_time)),
    }
    return render(request, "sections/sessions.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sessions", sessions_page)
