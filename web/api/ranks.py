"""Scores into ranks: results per applicant, exclusions and overrides, agreement, rank lists
and their exports.

`load_board` is the one read that joins applicants (portal), interviews (rooms) and scores
(scoring) and hands them to the pure aggregation; the pages use it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from core.clock import to_datetime
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Staff
from rooms.models import InterviewSession
from scoring import aggregate, ranks, scores
from scoring.agreement import krippendorff_alpha, matrix_from_results, rater_vs_others
from scoring.models import Score, ScoreExclusion, ScoreOverride
from web.api.fields import MultiLine
from web.api.framework import Api, Call
from web.api.scores import published_interviews, score_range
from web.keys import CLOCK

api = Api()


@dataclass(frozen=True)
class Board:
    """Everything the Scores & ranks screens show, computed once per request."""

    target_range: aggregate.ScoreRange
    ranked: list[aggregate.RankedApplicant]
    applicants: dict[str, Applicant]
    staff_names: dict[str, str]
    scores: dict[str, list[Score]]
    unrated: dict[tuple[str, str], tuple[str, ...]]
    exclusion_reasons: dict[tuple[str, str], str]
    interviews: dict[str, int]
    session_names: dict[str, str]
    item_labels: dict[str, str] = field(default_factory=dict)

    @property
    def computed_order(self) -> list[str]:
        """The applicants a rank list can order: those with a final score, best first."""
        return [r.applicant_id for r in self.ranked if r.rank is not None]

    @property
    def unscored(self) -> list[aggregate.RankedApplicant]:
        """Applicants without a final score, by name: listed after a rank list, never ranked."""
        return [r for r in self.ranked if r.rank is None]

    def by_id(self) -> dict[str, aggregate.RankedApplicant]:
        return {r.applicant_id: r for r in self.ranked}

    def has_unrated(self, applicant_id: str) -> bool:
        return any(applicant == applicant_id for applicant, _ in self.unrated)

    def notes(self, result: aggregate.ApplicantResult) -> str:
        parts = []
        for interviewer_id in result.excluded:
            reason = self.exclusion_reasons.get((result.applicant_id, interviewer_id), "")
            parts.append(f"Excluded {self.staff_names.get(interviewer_id, '?')}: {reason}")
        if result.override is not None:
            parts.append(f"Override {result.override.value:.2f}: {result.override.reason}")
        if result.drafts:
            parts.append(f"{len(result.drafts)} draft(s) not counted")
        return "; ".join(parts)


async def load_board(scope: ProgramScope, *, standardise: bool = False) -> Board:
    target_range = await score_range(scope)
    all_scores = await scope.all(Score)
    interviews = await published_interviews(scope)
    # Everyone on a published itinerary is listed (an applicant who missed every interview
    # as "Not scored"), though only interviews that happened are counted.
    itinerary = await published_interviews(scope, no_shows=True)
    rankable = {s.applicant_id for s in all_scores} | {i.applicant_id for i, _, _ in itinerary}
    applicants = {a.id: a for a in await scope.all(Applicant, Applicant.id.in_(sorted(rankable)))}
    items = await scores.items_by_form(scope, sorted({s.form_id for s in all_scores}))
    union = [item for form_items in items.values() for item in form_items]
    sheets = [scores.sheet_of(s, items[s.form_id]) for s in all_scores]
    exclusions = await scope.all(ScoreExclusion)
    overrides = {
        o.applicant_id: (o.value, o.reason)
        for o in await scope.all(ScoreOverride)
        if o.applicant_id in applicants
    }
    results = aggregate.aggregate(
        scores.rating_items(union),
        sheets,
        {a.id: a.display_name for a in applicants.values()},
        exclusions={(e.applicant_id, e.interviewer_id) for e in exclusions},
        overrides=overrides,
        target_range=target_range,
        standardise=standardise,
    )
    by_applicant: dict[str, list[Score]] = {}
    unrated: dict[tuple[str, str], tuple[str, ...]] = {}
    for score, sheet in zip(all_scores, sheets, strict=True):
        by_applicant.setdefault(score.applicant_id, []).append(score)
        own_items = scores.rating_items(items[score.form_id])
        missing = aggregate.sheet_value(own_items, sheet, target_range).unrated_items
        if missing and score.status == "submitted":
            unrated[(score.applicant_id, score.interviewer_id)] = missing
    interview_counts: dict[str, int] = {}
    for interview, _, _ in interviews:
        interview_counts[interview.applicant_id] = (
            interview_counts.get(interview.applicant_id, 0) + 1
        )
    return Board(
        target_range=target_range,
        ranked=aggregate.rank(results),
        applicants=applicants,
        staff_names={s.id: s.name for s in await scope.all(Staff)},
        scores=by_applicant,
        unrated=unrated,
        exclusion_reasons={(e.applicant_id, e.interviewer_id): e.reason for e in exclusions},
        interviews={
            a: max(interview_counts.get(a, 0), len(by_applicant.get(a, []))) for a in applicants
        },
        session_names={s.id: s.name for s in await scope.all(InterviewSession)},
        item_labels={item.id: item.label for item in union},
    )


# --- results -----------------------------------------------------------------------------------


class InterviewerScoreOut(BaseModel):
    interviewer_id: str
    interviewer_name: str
    value: float | None
    standardised: float | None
    unrated_items: list[str]


class ResultOut(BaseModel):
    applicant_id: str
    name: str
    rank: int | None
    tied: bool
    final: float | None
    average: float | None
    standardised: float | None
    override_value: float | None
    override_reason: str | None
    disagreement: bool
    unrated_items: bool
    drafts: list[str]
    excluded: list[str]
    interviews: int
    scores: list[InterviewerScoreOut]


class StandardiseQuery(BaseModel):
    standardise: bool = False


def describe_result(board: Board, row: aggregate.RankedApplicant) -> ResultOut:
    result = row.result
    return ResultOut(
        applicant_id=result.applicant_id,
        name=result.name,
        rank=row.rank,
        tied=row.tied_with_previous,
        final=result.final,
        average=result.average,
        standardised=result.standardised,
        override_value=result.override.value if result.override else None,
        override_reason=result.override.reason if result.override else None,
        disagreement=result.disagreement,
        unrated_items=any(
            (result.applicant_id, s.interviewer_id) in board.unrated for s in result.scores
        ),
        drafts=list(result.drafts),
        excluded=list(result.excluded),
        interviews=board.interviews.get(result.applicant_id, 0),
        scores=[
            InterviewerScoreOut(
                interviewer_id=s.interviewer_id,
                interviewer_name=board.staff_names.get(s.interviewer_id, ""),
                value=s.value,
                standardised=s.standardised,
                unrated_items=list(board.unrated.get((result.applicant_id, s.interviewer_id), ())),
            )
            for s in result.scores
        ],
    )


@api.route(
    "GET",
    "/ranks/results",
    summary="Final scores per applicant, in computed rank order (ties share a rank)",
    tags=("ranks",),
    permission="ranks.read",
    query=StandardiseQuery,
    response=list[ResultOut],
)
async def results(call: Call) -> list[ResultOut]:
    board = await load_board(call.scope, standardise=call.query.standardise)
    return [describe_result(board, row) for row in board.ranked]


# --- exclusions and overrides ------------------------------------------------------------------


class ReasonIn(BaseModel):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=scores.REASON_MAX), MultiLine
    ]


class OverrideIn(BaseModel):
    value: float = Field(ge=-1_000_000, le=1_000_000)
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=scores.REASON_MAX), MultiLine
    ]


def _now(call: Call) -> datetime:
    return to_datetime(call.request.app[CLOCK].now())


EXCLUSION = "/applicants/{applicant_id}/exclusions/{interviewer_id}"


@api.route(
    "PUT",
    EXCLUSION,
    summary="Leave one interviewer's score out of an applicant's final score (reason required)",
    tags=("ranks",),
    permission="scores.adjust",
    body=ReasonIn,
)
async def exclude(call: Call) -> None:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    staff = await call.scope.get(Staff, call.path("interviewer_id"), what="interviewer")
    row = await scores.set_exclusion(
        call.scope, applicant.id, staff.id, call.body.reason, actor_id=call.staff.id, now=_now(call)
    )
    record(
        call.db,
        call.staff,
        "score.exclude",
        "applicant",
        applicant.id,
        interviewer_id=staff.id,
        reason=row.reason,
    )


@api.route(
    "DELETE",
    EXCLUSION,
    summary="Count an excluded score again",
    tags=("ranks",),
    permission="scores.adjust",
)
async def include(call: Call) -> None:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    removed = await scores.remove_exclusion(call.scope, applicant.id, call.path("interviewer_id"))
    if removed is not None:
        record(
            call.db,
            call.staff,
            "score.include",
            "applicant",
            applicant.id,
            interviewer_id=removed.interviewer_id,
            old_reason=removed.reason,
        )


@api.route(
    "PUT",
    "/applicants/{applicant_id}/override",
    summary="Set an applicant's final score by hand (written reason required)",
    tags=("ranks",),
    permission="scores.adjust",
    body=OverrideIn,
)
async def override(call: Call) -> None:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    previous = await scores.find_override(call.scope, applicant.id)
    old = None if previous is None else {"value": previous.value, "reason": previous.reason}
    row = await scores.set_override(
        call.scope,
        applicant.id,
        call.body.value,
        call.body.reason,
        target_range=await score_range(call.scope),
        actor_id=call.staff.id,
        now=_now(call),
    )
    record(
        call.db,
        call.staff,
        "score.override",
        "applicant",
        applicant.id,
        old=old,
        new={"value": row.value, "reason": row.reason},
    )


@api.route(
    "DELETE",
    "/applicants/{applicant_id}/override",
    summary="Remove an override: the average is the final score again",
    tags=("ranks",),
    permission="scores.adjust",
)
async def remove_override(call: Call) -> None:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    removed = await scores.remove_override(call.scope, applicant.id)
    if removed is not None:
        record(
            call.db,
            call.staff,
            "score.override_remove",
            "applicant",
            applicant.id,
            old={"value": removed.value, "reason": removed.reason},
        )


# --- agreement ---------------------------------------------------------------------------------


class PointOut(BaseModel):
    interviewer_id: str
    applicant_id: str
    value: float
    others_mean: float


class AgreementOut(BaseModel):
    session_id: str
    alpha: float | None
    reason: str | None
    reading: str
    n_applicants: int
    n_interviewers: int
    n_values: int
    points: list[PointOut]


async def session_agreement(scope: ProgramScope, board: Board, session_id: str) -> AgreementOut:
    results = [row.result for row in board.ranked]
    in_session = {
        (s.applicant_id, s.interviewer_id)
        for rows in board.scores.values()
        for s in rows
        if s.session_id == session_id
    }
    matrix = {
        applicant_id: {i: v for i, v in values.items() if (applicant_id, i) in in_session}
        for applicant_id, values in matrix_from_results(results).items()
    }
    agreement = krippendorff_alpha(matrix)
    return AgreementOut(
        session_id=session_id,
        alpha=agreement.value,
        reason=agreement.reason,
        reading=ranks.reading_of(agreement),
        n_applicants=agreement.n_applicants,
        n_interviewers=agreement.n_interviewers,
        n_values=agreement.n_values,
        points=[PointOut(**p.__dict__) for p in rater_vs_others(matrix)],
    )


@api.route(
    "GET",
    "/sessions/{session_id}/agreement",
    summary="Inter-rater agreement (Krippendorff's alpha, interval) for one session",
    tags=("ranks",),
    permission="ranks.read",
    response=AgreementOut,
)
async def agreement(call: Call) -> AgreementOut:
    session = await call.scope.get(InterviewSession, call.path("session_id"), what="session")
    return await session_agreement(call.scope, await load_board(call.scope), session.id)
