"""Rank lists (the main list and custom named lists): read, create, rename, delete, save the
full order, revert to the computed order, and export a list or every score as CSV or PDF.

Every manual change is written to the audit log with who moved where.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from core.clock import to_datetime
from core.scoping import ProgramScope
from portal.audit import record
from scoring import exports, ranks
from scoring.aggregate import RankedApplicant
from scoring.models import RankList
from web.api.fields import MAX_ITEMS, RowId, SingleLine
from web.api.framework import Api, Call
from web.api.ranks import Board, load_board
from web.keys import CLOCK

api = Api()


class EntryOut(BaseModel):
    applicant_id: str
    name: str
    rank: int | None
    scored: bool
    included: bool
    manual: bool
    new: bool
    computed_rank: int | None
    tied: bool
    final: float | None
    average: float | None
    interviews: int
    notes: str


class RankListOut(BaseModel):
    id: str
    name: str
    is_main: bool
    customised: bool
    updated_at: datetime
    entries: list[EntryOut]


class RankListIn(BaseModel):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=ranks.NAME_MAX), SingleLine
    ]


class OrderEntryIn(BaseModel):
    applicant_id: RowId
    included: bool = True


class OrderIn(BaseModel):
    entries: list[OrderEntryIn] = Field(max_length=MAX_ITEMS)


async def placements_of(
    scope: ProgramScope, board: Board, rank_list: RankList
) -> list[ranks.Placement]:
    return ranks.merged_order(board.computed_order, await ranks.stored_order(scope, rank_list.id))


NOT_SCORED = "Not scored"


def describe_list(
    board: Board, rank_list: RankList, placements: list[ranks.Placement]
) -> RankListOut:
    """The ranked entries in the list's order, then the applicants nobody has scored yet.

    Only applicants with a final score get a rank number; the others follow, by name, with no
    rank and marked "Not scored" (a stored order never places them among the ranked).
    """
    by_id = board.by_id()
    entries: list[EntryOut] = []
    position = 0
    for placement in placements:
        row = by_id[placement.applicant_id]
        if placement.included:
            position += 1
        entries.append(
            _entry(
                board,
                row,
                rank=position if placement.included else None,
                included=placement.included,
                manual=placement.manual,
                new=placement.new,
            )
        )
    entries += [
        _entry(board, row, rank=None, included=True, manual=False, new=False)
        for row in board.unscored
    ]
    return RankListOut(
        id=rank_list.id,
        name=rank_list.name,
        is_main=rank_list.is_main,
        customised=any(not p.new for p in placements) and any(p.manual for p in placements),
        updated_at=rank_list.updated_at,
        entries=entries,
    )


def _entry(
    board: Board,
    row: RankedApplicant,
    *,
    rank: int | None,
    included: bool,
    manual: bool,
    new: bool,
) -> EntryOut:
    scored = row.final is not None
    notes = board.notes(row.result)
    return EntryOut(
        applicant_id=row.applicant_id,
        name=row.name,
        rank=rank if scored else None,
        scored=scored,
        included=included,
        manual=manual,
        new=new,
        computed_rank=row.rank,
        tied=row.tied_with_previous,
        final=row.final,
        average=row.result.average,
        interviews=board.interviews.get(row.applicant_id, 0),
        notes="; ".join(part for part in (NOT_SCORED if not scored else "", notes) if part),
    )


def _now(call: Call) -> datetime:
    return to_datetime(call.request.app[CLOCK].now())


async def _list(call: Call) -> RankList:
    return await call.scope.get(RankList, call.path("list_id"), what="rank list")


async def load_list(scope: ProgramScope, rank_list: RankList) -> tuple[Board, RankListOut]:
    board = await load_board(scope)
    return board, describe_list(board, rank_list, await placements_of(scope, board, rank_list))


@api.route(
    "GET",
    "/rank-lists",
    summary="The rank lists: the main list first, then custom lists",
    tags=("ranks",),
    permission="ranks.read",
    response=list[RankListOut],
    transaction="write",  # the main list is created on first use
)
async def list_lists(call: Call) -> list[RankListOut]:
    board = await load_board(call.scope)
    return [
        describe_list(board, r, await placements_of(call.scope, board, r))
        for r in await ranks.lists_of(call.scope, _now(call))
    ]


@api.route(
    "POST",
    "/rank-lists",
    summary="Create a custom rank list (it starts from the computed order)",
    tags=("ranks",),
    permission="ranks.write",
    body=RankListIn,
    response=RankListOut,
    status=201,
)
async def create_list(call: Call) -> RankListOut:
    await ranks.main_list(call.scope, _now(call))
    created = await ranks.create_list(call.scope, call.body.name, _now(call))
    record(call.db, call.staff, "rank_list.create", "rank_list", created.id, name=created.name)
    return (await load_list(call.scope, created))[1]


@api.route(
    "GET",
    "/rank-lists/{list_id}",
    summary="One rank list with its entries",
    tags=("ranks",),
    permission="ranks.read",
    response=RankListOut,
)
async def get_list(call: Call) -> RankListOut:
    return (await load_list(call.scope, await _list(call)))[1]


@api.route(
    "PATCH",
    "/rank-lists/{list_id}",
    summary="Rename a rank list",
    tags=("ranks",),
    permission="ranks.write",
    body=RankListIn,
    response=RankListOut,
)
async def rename_list(call: Call) -> RankListOut:
    rank_list = await _list(call)
    old = rank_list.name
    await ranks.rename_list(rank_list, call.body.name, _now(call))
    record(
        call.db,
        call.staff,
        "rank_list.rename",
        "rank_list",
        rank_list.id,
        old=old,
        new=rank_list.name,
    )
    return (await load_list(call.scope, rank_list))[1]


@api.route(
    "DELETE",
    "/rank-lists/{list_id}",
    summary="Delete a custom rank list (the main list stays)",
    tags=("ranks",),
    permission="ranks.write",
)
async def delete_list(call: Call) -> None:
    rank_list = await _list(call)
    await ranks.delete_list(call.scope, rank_list)
    record(call.db, call.staff, "rank_list.delete", "rank_list", rank_list.id, name=rank_list.name)


@api.route(
    "PUT",
    "/rank-lists/{list_id}/order",
    summary="Save the full order (every rankable applicant once, with included or not)",
    tags=("ranks",),
    permission="ranks.write",
    body=OrderIn,
    response=RankListOut,
)
async def save_order(call: Call) -> RankListOut:
    rank_list = await _list(call)
    board = await load_board(call.scope)
    before = await placements_of(call.scope, board, rank_list)
    # Unscored applicants are never placed in an order: a client sending them is not refused.
    unscored = {r.applicant_id for r in board.unscored}
    order = [
        (e.applicant_id, e.included) for e in call.body.entries if e.applicant_id not in unscored
    ]
    placements = await ranks.save_order(
        call.scope, rank_list, order, board.computed_order, _now(call)
    )
    moved = ranks.moves([p.applicant_id for p in before], [a for a, _ in order])
    was_included = {p.applicant_id: p.included for p in before}
    record(
        call.db,
        call.staff,
        "rank_list.reorder",
        "rank_list",
        rank_list.id,
        moves=[
            {"applicant_id": m.applicant_id, "from": m.old_position, "to": m.new_position}
            for m in moved
        ],
        excluded=[a for a, included in order if not included and was_included.get(a, True)],
        included=[a for a, included in order if included and not was_included.get(a, True)],
    )
    return describe_list(board, rank_list, placements)


@api.route(
    "POST",
    "/rank-lists/{list_id}/revert",
    summary="Forget the manual order: the list follows the computed order again",
    tags=("ranks",),
    permission="ranks.write",
    response=RankListOut,
)
async def revert_list(call: Call) -> RankListOut:
    rank_list = await _list(call)
    await ranks.revert(call.scope, rank_list, _now(call))
    record(call.db, call.staff, "rank_list.revert", "rank_list", rank_list.id)
    return (await load_list(call.scope, rank_list))[1]


# --- exports ------------------------------------------------------------------------------------


def rank_rows(board: Board, listed: RankListOut) -> list[exports.RankRow]:
    rows = []
    for entry in listed.entries:
        if not entry.included:
            continue
        applicant = board.applicants[entry.applicant_id]
        rows.append(
            exports.RankRow(
                rank=entry.rank,
                name=entry.name,
                email=applicant.email,
                aamc_id=applicant.aamc_id,
                medical_school=applicant.medical_school,
                final=entry.final,
                average=entry.average,
                interviews=entry.interviews,
                notes=entry.notes,
            )
        )
    return rows


def score_rows(board: Board) -> list[exports.ScoreRow]:
    rows = []
    for ranked in board.ranked:
        applicant = board.applicants[ranked.applicant_id]
        values = {s.interviewer_id: s.value for s in ranked.result.scores}
        for score in sorted(
            board.scores.get(ranked.applicant_id, []),
            key=lambda s: board.staff_names.get(s.interviewer_id, ""),
        ):
            if score.interviewer_id in ranked.result.excluded:
                counted = "excluded: " + board.exclusion_reasons.get(
                    (score.applicant_id, score.interviewer_id), ""
                )
            else:
                counted = "yes" if score.interviewer_id in values else "no (draft)"
            rows.append(
                exports.ScoreRow(
                    name=applicant.display_name,
                    email=applicant.email,
                    aamc_id=applicant.aamc_id,
                    medical_school=applicant.medical_school,
                    session=board.session_names.get(score.session_id, ""),
                    interviewer=board.staff_names.get(score.interviewer_id, ""),
                    status=score.status,
                    value=values.get(score.interviewer_id),
                    counted=counted,
                    comment=score.comment,
                )
            )
    return rows


def download(content: bytes, filename: str, fmt: str) -> web.Response:
    content_type = "text/csv" if fmt == "csv" else "application/pdf"
    return web.Response(
        body=content,
        headers={
            "Content-Type": f"{content_type}; charset=utf-8" if fmt == "csv" else content_type,
            "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


def slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part) or "rank-list"


@api.route(
    "GET",
    "/rank-lists/{list_id}/export.{fmt:csv|pdf}",
    summary="Export a rank list (CSV or PDF) with what another system needs to enter it",
    tags=("ranks",),
    permission="ranks.read",
    transaction="write",  # the export is recorded in the audit log
)
async def export_list(call: Call) -> web.Response:
    rank_list = await _list(call)
    board, listed = await load_list(call.scope, rank_list)
    rows = rank_rows(board, listed)
    fmt = call.path("fmt")
    if fmt == "csv":
        content = exports.rank_list_csv(rows)
    else:
        stamp = _now(call).strftime("%Y-%m-%d %H:%M UTC")
        content = exports.rank_list_pdf(rank_list.name, f"Exported {stamp}", rows)
    record(call.db, call.staff, "rank_list.export", "rank_list", rank_list.id, format=fmt)
    return download(content, slug(rank_list.name), fmt)


@api.route(
    "GET",
    "/exports/scores.{fmt:csv|pdf}",
    summary="Export every score (one row per applicant and interviewer), CSV or PDF",
    tags=("ranks",),
    permission="scores.read_all",
    transaction="write",  # the export is recorded in the audit log
)
async def export_scores(call: Call) -> web.Response:
    board = await load_board(call.scope)
    rows = score_rows(board)
    fmt = call.path("fmt")
    if fmt == "csv":
        content = exports.scores_csv(rows)
    else:
        stamp = _now(call).strftime("%Y-%m-%d %H:%M UTC")
        content = exports.scores_pdf("All scores", f"Exported {stamp}", rows)
    record(call.db, call.staff, "scores.export", "program", call.staff.program_id, format=fmt)
    return download(content, "scores", fmt)
