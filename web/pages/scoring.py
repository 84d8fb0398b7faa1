"""The interviewer's scoring pages: their applicants per session, and the panel for each.

The panel itself is the reusable `scoring/_panel.html` macro plus `web/client/scoring.js`, so
the live room can embed the same thing beside the video.
"""

from __future__ import annotations

from itertools import groupby

from aiohttp import web

from core.scoping import ProgramScope
from web.api.scores import MyInterview, load_panel, my_interviews
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


def storage_key(interviewer_id: str, applicant_id: str, session_id: str) -> str:
    """The browser's key for unsent changes: one per interviewer, applicant and session."""
    return f"interviewday.score.{interviewer_id}.{applicant_id}.{session_id}"


def score_state(row: MyInterview) -> str:
    if row.score is None:
        return "not started"
    return "submitted" if row.score.status == "submitted" else "draft"


async def my_scores_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "scores.own")
    async with request.app[DB]() as db:
        rows = await my_interviews(ProgramScope(db, identity.actor.program_id), identity.actor.id)
    sessions = [
        (session, [(row, score_state(row)) for row in group])
        for session, group in groupby(rows, key=lambda r: r.session)
    ]
    owed = sum(1 for row in rows if score_state(row) != "submitted")
    context = {
        **shell_context(identity),
        "title": "My scores",
        "sessions": sessions,
        "owed": owed,
    }
    return render(request, "scoring/mine.html", context)


async def panel_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "scores.own")
    session_id = request.match_info["session_id"]
    applicant_id = request.match_info["applicant_id"]
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        panel = await load_panel(scope, identity.actor.id, session_id, applicant_id)
        rows = [
            r for r in await my_interviews(scope, identity.actor.id) if r.session.id == session_id
        ]
    order = [r.applicant.id for r in rows]
    index = order.index(applicant_id) if applicant_id in order else -1
    previous = rows[index - 1] if index > 0 else None
    following = rows[index + 1] if 0 <= index < len(rows) - 1 else None
    context = {
        **shell_context(identity),
        "title": f"Score {panel.applicant_name}",
        "panel": panel,
        "storage_key": storage_key(identity.actor.id, applicant_id, session_id),
        "previous": previous,
        "following": following,
    }
    # The live room embeds the panel in its side panel: the same form without the shell.
    template = "scoring/embed.html" if request.query.get("embed") else "scoring/panel.html"
    return render(request, template, context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/scoring", my_scores_page)
    app.router.add_get("/scoring/{session_id}/{applicant_id}", panel_page)
