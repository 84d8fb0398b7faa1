"""The sections of the left menu: a first view of each, filled in by the setup flows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from core.scoping import ProgramScope
from portal.models import Applicant, Staff
from portal.permissions import role_matrix
from rooms.models import InterviewSession, MeetingRoom
from scoring.models import RankList, ScoringForm
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render

Loader = Callable[[ProgramScope], Awaitable[dict[str, Any]]]


async def _sessions(scope: ProgramScope) -> dict[str, Any]:
    rows = await scope.all(InterviewSession)
    return {"sessions": sorted(rows, key=lambda s: (s.date, s.start_time))}


async def _forms(scope: ProgramScope) -> dict[str, Any]:
    return {"forms": await scope.all(ScoringForm, ScoringForm.is_current.is_(True))}


async def _applicants(scope: ProgramScope) -> dict[str, Any]:
    rows = await scope.all(Applicant)
    return {"applicants": sorted(rows, key=lambda a: (a.last_name, a.first_name))}


async def _ranks(scope: ProgramScope) -> dict[str, Any]:
    return {"rank_lists": await scope.all(RankList)}


async def _meeting_rooms(scope: ProgramScope) -> dict[str, Any]:
    return {"meeting_rooms": await scope.all(MeetingRoom)}


async def _staff(scope: ProgramScope) -> dict[str, Any]:
    rows = await scope.all(Staff)
    return {"staff": sorted(rows, key=lambda s: s.name), "matrix": role_matrix()}


async def _reports(scope: ProgramScope) -> dict[str, Any]:
    return {}


SECTIONS: tuple[tuple[str, str, str, str, Loader], ...] = (
    ("/sessions", "Sessions", "sessions.read", "sections/sessions.html", _sessions),
    ("/forms", "Scoring Forms", "forms.read", "sections/forms.html", _forms),
    ("/applicants", "Applicants", "applicants.read", "sections/applicants.html", _applicants),
    ("/ranks", "Scores & Ranks", "ranks.read", "sections/ranks.html", _ranks),
    (
        "/meeting-rooms",
        "Meeting Rooms",
        "sessions.read",
        "sections/meeting_rooms.html",
        _meeting_rooms,
    ),
    ("/staff", "Staff", "staff.read", "sections/staff.html", _staff),
    ("/reports", "Reports", "reports.read", "sections/reports.html", _reports),
)


def _page(
    title: str, action: str, template: str, load: Loader
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        identity = staff_identity(request, action)
        async with request.app[DB]() as db:
            data = await load(ProgramScope(db, identity.actor.program_id))
        context = {**shell_context(identity), "title": title, **data}
        return render(request, template, context)

    return handler


def add_routes(app: web.Application) -> None:
    for path, title, action, template, load in SECTIONS:
        app.router.add_get(path, _page(title, action, template, load))
