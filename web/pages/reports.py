"""Reports pages: the season at a glance, and one session in detail; each table exports CSV."""

from __future__ import annotations

from aiohttp import web

from core.scoping import ProgramScope
from portal.reports import bar_percent
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.reports import season_report, session_report


async def reports_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "reports.read")
    async with request.app[DB]() as db:
        report = await season_report(ProgramScope(db, identity.actor.program_id))
    status_max = max([c.count for c in report.statuses] + [0])
    context = {
        **shell_context(identity),
        "title": "Reports",
        "report": report,
        "total": sum(c.count for c in report.statuses),
        "bars": {c.status: bar_percent(c.count, status_max) for c in report.statuses},
    }
    return render(request, "reports/season.html", context)


async def session_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "reports.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        report = await session_report(scope, request.match_info["session_id"])
    status_max = max([c.count for c in report.statuses] + [0])
    context = {
        **shell_context(identity),
        "title": f"Report: {report.session.name}",
        "report": report,
        "total": sum(c.count for c in report.statuses),
        "bars": {c.status: bar_percent(c.count, status_max) for c in report.statuses},
    }
    return render(request, "reports/session.html", context)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/sessions/{session_id}", session_page)
