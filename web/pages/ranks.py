"""Scores & ranks pages: every applicant's scores, exclusions and overrides, rank lists,
scoring completion and distributions, and inter-rater agreement per session."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.clock import to_datetime
from core.errors import AppError
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Staff
from portal.permissions import allowed
from rooms.models import InterviewSession
from scoring import ranks, scores
from scoring.models import RankList
from web.api.rank_lists import load_list
from web.api.ranks import load_board, session_agreement
from web.api.scores import score_range
from web.keys import CLOCK, DB
from web.pages.common import shell_context, staff_identity
from web.pages.ranks_reports import completion_context, scatter
from web.render import render
from web.session import Identity

NOTICES = {
    "excluded": "The score is left out of the final score.",
    "included": "The score counts again.",
    "override": "The final score is overridden.",
    "override-removed": "The override is removed: the average is the final score again.",
    "created": "Rank list created from the computed order.",
    "reverted": "The list follows the computed order again.",
}


def _now(request: web.Request) -> Any:
    return to_datetime(request.app[CLOCK].now())


async def board_page(
    request: web.Request, *, error: AppError | None = None, status: int = 200
) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.read")
    standardise = request.query.get("standardise") == "1"
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        board = await load_board(scope, standardise=standardise)
        lists = await ranks.lists_of(scope, _now(request))
        sessions = sorted(await scope.all(InterviewSession), key=lambda s: (s.date, s.name))
    context = {
        **shell_context(identity),
        "title": "Scores & Ranks",
        "board": board,
        "lists": lists,
        "sessions": sessions,
        "standardise": standardise,
        "can_adjust": allowed(identity.actor, "scores.adjust"),
        "notice": NOTICES.get(request.query.get("notice", "")),
        "error": error,
    }
    return render(request, "ranks/board.html", context, status=status)


async def _adjust(request: web.Request, identity: Identity) -> str:
    form = await request.post()
    applicant_id = request.match_info["applicant_id"]
    action = str(form.get("action", ""))
    actor = identity.actor
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, actor.program_id)
        applicant = await scope.get(Applicant, applicant_id, what="applicant")
        if action in ("exclude", "include"):
            staff = await scope.get(Staff, str(form.get("interviewer_id", "")), what="interviewer")
            if action == "exclude":
                row = await scores.set_exclusion(
                    scope,
                    applicant.id,
                    staff.id,
                    str(form.get("reason", "")),
                    actor_id=actor.id,
                    now=_now(request),
                )
                record(db, actor, "score.exclude", "applicant", applicant.id,
                       interviewer_id=staff.id, reason=row.reason)  # fmt: skip
                return "excluded"
            removed = await scores.remove_exclusion(scope, applicant.id, staff.id)
            if removed is not None:
                record(db, actor, "score.include", "applicant", applicant.id,
                       interviewer_id=staff.id, old_reason=removed.reason)  # fmt: skip
            return "included"
        if action == "override":
            previous = await scores.find_override(scope, applicant.id)
            old = None if previous is None else {"value": previous.value, "reason": previous.reason}
            try:
                value = float(str(form.get("value", "")))
            except ValueError:
                value = float("nan")
            row_o = await scores.set_override(
                scope,
                applicant.id,
                value,
                str(form.get("reason", "")),
                target_range=await score_range(scope),
                actor_id=actor.id,
                now=_now(request),
            )
            record(db, actor, "score.override", "applicant", applicant.id, old=old,
                   new={"value": row_o.value, "reason": row_o.reason})  # fmt: skip
            return "override"
        removed_o = await scores.remove_override(scope, applicant.id)
        if removed_o is not None:
            record(db, actor, "score.override_remove", "applicant", applicant.id,
                   old={"value": removed_o.value, "reason": removed_o.reason})  # fmt: skip
        return "override-removed"


async def adjust(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "scores.adjust")
    try:
        notice = await _adjust(request, identity)
    except AppError as exc:
        if exc.status != 422:
            raise
        return await board_page(request, error=exc, status=422)
    raise web.HTTPSeeOther(f"/ranks?notice={notice}#a-{request.match_info['applicant_id']}")


async def list_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.read")
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        lists = await ranks.lists_of(scope, _now(request))
        rank_list = await scope.get(RankList, request.match_info["list_id"], what="rank list")
        _, listed = await load_list(scope, rank_list)
    context = {
        **shell_context(identity),
        "title": listed.name,
        "listed": listed,
        "lists": lists,
        "can_write": allowed(identity.actor, "ranks.write"),
        "notice": NOTICES.get(request.query.get("notice", "")),
    }
    return render(request, "ranks/list.html", context)


async def main_list_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.read")
    async with request.app[DB]() as db, db.begin():
        main = await ranks.main_list(ProgramScope(db, identity.actor.program_id), _now(request))
    raise web.HTTPSeeOther(f"/ranks/lists/{main.id}")


async def create_list(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.write")
    form = await request.post()
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        await ranks.main_list(scope, _now(request))
        created = await ranks.create_list(scope, str(form.get("name", "")), _now(request))
        record(db, identity.actor, "rank_list.create", "rank_list", created.id, name=created.name)
    raise web.HTTPSeeOther(f"/ranks/lists/{created.id}?notice=created")


async def revert_list(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.write")
    async with request.app[DB]() as db, db.begin():
        scope = ProgramScope(db, identity.actor.program_id)
        rank_list = await scope.get(RankList, request.match_info["list_id"], what="rank list")
        await ranks.revert(scope, rank_list, _now(request))
        record(db, identity.actor, "rank_list.revert", "rank_list", rank_list.id)
    raise web.HTTPSeeOther(f"/ranks/lists/{rank_list.id}?notice=reverted")


async def completion_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        context = await completion_context(scope)
    return render(
        request,
        "ranks/completion.html",
        {**shell_context(identity), "title": "Scoring completion", **context},
    )


async def agreement_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "ranks.read")
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        board = await load_board(scope)
        sessions = sorted(await scope.all(InterviewSession), key=lambda s: (s.date, s.name))
        rows = [(s, await session_agreement(scope, board, s.id)) for s in sessions]
    charts = [(s, a, scatter(a.points, board.target_range)) for s, a in rows]
    return render(
        request,
        "ranks/agreement.html",
        {
            **shell_context(identity),
            "title": "Inter-rater agreement",
            "charts": charts,
            "staff_names": board.staff_names,
            "names": {a: x.display_name for a, x in board.applicants.items()},
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ranks", board_page)
    app.router.add_post("/ranks/applicants/{applicant_id}/adjust", adjust)
    app.router.add_get("/ranks/lists", main_list_page)
    app.router.add_post("/ranks/lists", create_list)
    app.router.add_get("/ranks/lists/{list_id}", list_page)
    app.router.add_post("/ranks/lists/{list_id}/revert", revert_list)
    app.router.add_get("/ranks/completion", completion_page)
    app.router.add_get("/ranks/agreement", agreement_page)
