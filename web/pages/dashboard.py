"""The dashboard, one per role, and the applicant's home."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from sqlalchemy import func

from core.scoping import ProgramScope
from portal.models import APPLICANT_STATUSES, Applicant, Program
from rooms.models import InterviewSession
from scoring.models import Score
from web.keys import CLOCK, DB
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.schedules import changes_for, interviewer_rooms


async def dashboard(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request)
    actor = identity.actor
    today = date.fromtimestamp(request.app[CLOCK].now())
    async with request.app[DB]() as db:
        scope = ProgramScope(db, actor.program_id)
        program = await db.get(Program, actor.program_id)
        sessions = list(
            (
                await db.scalars(
                    scope.select(InterviewSession, InterviewSession.date >= today).order_by(
                        InterviewSession.date, InterviewSession.start_time
                    )
                )
            ).all()
        )
        by_status = dict(
            (
                await db.execute(
                    scope.select(Applicant)
                    .with_only_columns(Applicant.status, func.count())
                    .group_by(Applicant.status)
                )
            )
            .tuples()
            .all()
        )
        my_rooms = await interviewer_rooms(scope, actor.id)
        my_changes = await changes_for(scope, staff_id=actor.id)
        drafts = await db.scalar(
            scope.select(Score)
            .with_only_columns(func.count())
            .where(Score.interviewer_id == actor.id, Score.status == "draft")
        )
    counts = [(status, by_status.get(status, 0)) for status in APPLICANT_STATUSES]
    return render(
        request,
        "dashboard.html",
        {
            **shell_context(identity),
            "title": "Dashboard",
            "program": program,
            "sessions": sessions,
            "status_counts": counts,
            "status_max": max([c for _, c in counts] + [1]),
            "applicant_total": sum(c for _, c in counts),
            "my_rooms": my_rooms,
            "my_changes": my_changes,
            "drafts": drafts or 0,
        },
    )
