"""The coordinator's console for one session's day."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from rooms.models import InterviewSession
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def console_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "timetrack.console")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        session = await scope.get(
            InterviewSession, request.match_info["session_id"], what="session"
        )
    return render(
        request,
        "console/console.html",
        {
            **shell_context(identity),
            "title": f"Console · {session.name}",
            "session": session,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/sessions/{session_id}/console", console_page)
