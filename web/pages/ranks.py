"""Scores and ranks pages."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from scoring.models import RankList
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def ranks_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.read")
    async with request.app[DB]() as db:
        rows = await ProgramScope(db, identity.actor.program_id).all(RankList)
    context = {**shell_context(identity), "title": "Scores & Ranks", "rank_lists": rows}
    return render(request, "sections/ranks.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ranks", ranks_page)
