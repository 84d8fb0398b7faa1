"""Meeting rooms pages."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from rooms.models import MeetingRoom
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def meeting_rooms_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "sessions.read")
    async with request.app[DB]() as db:
        rows = await ProgramScope(db, identity.actor.program_id).all(MeetingRoom)
    context = {**shell_context(identity), "title": "Meeting Rooms", "meeting_rooms": rows}
    return render(request, "sections/meeting_rooms.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/meeting-rooms", meeting_rooms_page)
