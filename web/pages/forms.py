"""Scoring forms pages."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from scoring.models import ScoringForm
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render


async def forms_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "forms.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        rows = await scope.all(ScoringForm, ScoringForm.is_current.is_(True))
    context = {**shell_context(identity), "title": "Scoring Forms", "forms": rows}
    return render(request, "sections/forms.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/forms", forms_page)
