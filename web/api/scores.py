"""Scores: the interviewer's own sheet (read, autosave, submit), everyone's for managers, and
locking a session's scoring.

An interviewer addresses their sheet by session and applicant; the sheet is theirs by
construction, so there is no way to name another interviewer's. Reading by score id answers
404 for a sheet that is not yours unless you may read them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from core.clock import to_datetime
from core.errors import Conflict, NotFound
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Program
from portal.permissions import Actor, allowed
from rooms.models import Interview, InterviewSession, Itinerary, Room, RoomInterviewer
from scoring import aggregate, scores
from scoring.models import Score, ScoringForm, ScoringItem
from web.api.fields import LongText, MultiLine, Revision, RowId, ScoreValue
from web.api.framework import Api, Call
from web.keys import CLOCK

api = Api()


class ItemOut(BaseModel):
    id: str
    kind: str
    label: str
    help_text: str | None
    scale_min: int
    scale_max: int
    weight: float
    required: bool


class FormOut(BaseModel):
    id: str
    name: str
    version: int
    items: list[ItemOut]


class ScoreOut(BaseModel):
    id: str | None
    session_id: str
    applicant_id: str
    interviewer_id: str
    form_id: str
    answers: dict[str, Any]
    comment: str
    status: str
    revision: int
    updated_at: datetime | None
    submitted_at: datetime | None
    value: float | None


class PanelOut(BaseModel):
    session_id: str
    session_name: str
    applicant_id: str
    applicant_name: str
    locked: bool
    form: FormOut
    score: ScoreOut


class DraftIn(BaseModel):
    answers: dict[RowId, ScoreValue | bool | LongText | None] = Field(
        default_factory=dict, max_length=1000
    )
    comment: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=scores.COMMENT_MAX), MultiLine
    ] = ""
    revision: Revision


class SaveOut(BaseModel):
    applied: bool
    score: ScoreOut


class LockIn(BaseModel):
    locked: bool


class LockOut(BaseModel):
    session_id: str
    locked: bool


@dataclass(frozen=True)
class MyInterview:
    session: InterviewSession
    room: Room
    interview: Interview
    applicant: Applicant
    score: Score | None


# --- reads shared with the pages ----------------------------------------------------------------


async def score_range(scope: ProgramScope) -> aggregate.ScoreRange:
    program = await scope.db.get(Program, scope.program_id)
    if program is None or program.score_min >= program.score_max:
        return aggregate.DEFAULT_RANGE
    return (float(program.score_min), float(program.score_max))


async def published_interviews(
    scope: ProgramScope,
    *,
    staff_id: str | None = None,
    session_id: str | None = None,
    no_shows: bool = False,
) -> list[tuple[Interview, Room, InterviewSession]]:
    """Interviews of published itineraries, optionally only in one interviewer's rooms.

    An interview the applicant did not come to (`no_show`) did not happen: it is left out, so
    rank lists do not count it, completion reports do not expect its score and the
    interviewer's list does not ask for one; `no_shows=True` keeps it (an interviewer may still
    open the form, e.g. when the applicant was there after all)."""
    statement = (
        scope.select(Interview)
        .join(Itinerary, Itinerary.id == Interview.itinerary_id)
        .join(Room, Room.id == Interview.room_id)
        .join(InterviewSession, InterviewSession.id == Interview.session_id)
        .where(Itinerary.status == "published")
        .with_only_columns(Interview, Room, InterviewSession)
        .order_by(InterviewSession.date, InterviewSession.start_time, Interview.round_number)
    )
    if staff_id is not None:
        statement = statement.join(RoomInterviewer, RoomInterviewer.room_id == Room.id).where(
            RoomInterviewer.staff_id == staff_id
        )
    if session_id is not None:
        statement = statement.where(Interview.session_id == session_id)
    if not no_shows:
        statement = statement.where(Interview.status != "no_show")
    return [(i, r, s) for i, r, s in (await scope.db.execute(statement)).tuples()]


async def my_interviews(scope: ProgramScope, staff_id: str) -> list[MyInterview]:
    rows = await published_interviews(scope, staff_id=staff_id)
    applicants = {
        a.id: a
        for a in await scope.all(Applicant, Applicant.id.in_([i.applicant_id for i, _, _ in rows]))
    }
    own = {
        (s.session_id, s.applicant_id): s
        for s in await scope.all(Score, Score.interviewer_id == staff_id)
    }
    return [
        MyInterview(
            session,
            room,
            interview,
            applicants[interview.applicant_id],
            own.get((interview.session_id, interview.applicant_id)),
        )
        for interview, room, session in rows
    ]


async def resolve_owner(
    scope: ProgramScope, interviewer_id: str, session_id: str, applicant_id: str
) -> tuple[InterviewSession, scores.Owner]:
    """The interviewer's sheet for this applicant: an existing one, or the interview that
    entitles them to start one (404 when they do not interview this applicant)."""
    session = await scope.get(InterviewSession, session_id, what="session")
    await scope.get(Applicant, applicant_id, what="applicant")
    existing = await scores.find_own(scope, session_id, applicant_id, interviewer_id)
    if existing is not None:
        return session, scores.Owner(
            session_id, applicant_id, interviewer_id, existing.form_id, existing.interview_id
        )
    for interview, room, _ in await published_interviews(
        scope, staff_id=interviewer_id, session_id=session_id, no_shows=True
    ):
        if interview.applicant_id != applicant_id:
            continue
        if room.scoring_form_id is None:
            raise Conflict(
                f"{room.name} has no scoring form yet: ask a coordinator to choose one.",
                code="no_scoring_form",
            )
        return session, scores.Owner(
            session_id, applicant_id, interviewer_id, room.scoring_form_id, interview.id
        )
    raise NotFound("You do not interview this applicant in this session.", field="applicant_id")


def describe_score(
    score: Score | None,
    owner: scores.Owner,
    items: list[ScoringItem],
    target_range: aggregate.ScoreRange,
) -> ScoreOut:
    if score is None:
        return ScoreOut(
            id=None,
            session_id=owner.session_id,
            applicant_id=owner.applicant_id,
            interviewer_id=owner.interviewer_id,
            form_id=owner.form_id,
            answers={},
            comment="",
            status="draft",
            revision=0,
            updated_at=None,
            submitted_at=None,
            value=None,
        )
    value = aggregate.sheet_value(
        scores.rating_items(items), scores.sheet_of(score, items), target_range
    ).value
    return ScoreOut(
        id=score.id,
        session_id=score.session_id,
        applicant_id=score.applicant_id,
        interviewer_id=score.interviewer_id,
        form_id=score.form_id,
        answers=dict(score.answers),
        comment=score.comment,
        status=score.status,
        revision=score.revision,
        updated_at=score.updated_at,
        submitted_at=score.submitted_at,
        value=value,
    )


async def load_panel(
    scope: ProgramScope, interviewer_id: str, session_id: str, applicant_id: str
) -> PanelOut:
    session, owner = await resolve_owner(scope, interviewer_id, session_id, applicant_id)
    applicant = await scope.get(Applicant, applicant_id, what="applicant")
    form = await scope.get(ScoringForm, owner.form_id, what="scoring form")
    items = (await scores.items_by_form(scope, [form.id]))[form.id]
    score = await scores.find_own(scope, session_id, applicant_id, interviewer_id)
    return PanelOut(
        session_id=session.id,
        session_name=session.name,
        applicant_id=applicant.id,
        applicant_name=applicant.display_name,
        locked=session.scoring_locked,
        form=FormOut(
            id=form.id,
            name=form.name,
            version=form.version,
            items=[ItemOut.model_validate(item, from_attributes=True) for item in items],
        ),
        score=describe_score(score, owner, items, await score_range(scope)),
    )


async def _describe(scope: ProgramScope, score: Score) -> ScoreOut:
    owner = scores.Owner(
        score.session_id, score.applicant_id, score.interviewer_id, score.form_id, None
    )
    items = (await scores.items_by_form(scope, [score.form_id]))[score.form_id]
    return describe_score(score, owner, items, await score_range(scope))


async def _visible_score(call: Call) -> Score:
    score = await call.scope.get(Score, call.path("score_id"), what="score")
    if score.interviewer_id != call.staff.id and not allowed(call.staff, "scores.read_all"):
        raise NotFound(f"No score with id {score.id!r}", field="id")
    return score


# --- the interviewer's own sheet ------------------------------------------------------------------

OWN = "/sessions/{session_id}/applicants/{applicant_id}/score"


@api.route(
    "GET",
    OWN,
    summary="My scoring panel for one applicant: the form, its items and my sheet",
    tags=("scores",),
    permission="scores.own",
    response=PanelOut,
)
async def get_own(call: Call) -> PanelOut:
    return await load_panel(
        call.scope, call.staff.id, call.path("session_id"), call.path("applicant_id")
    )


async def _save(call: Call, actor: Actor, session_id: str, applicant_id: str) -> SaveOut:
    session, owner = await resolve_owner(call.scope, actor.id, session_id, applicant_id)
    body: DraftIn = call.body
    result = await scores.save_draft(
        call.scope,
        owner,
        answers=body.answers,
        comment=body.comment,
        revision=body.revision,
        locked=session.scoring_locked,
        now=to_datetime(call.request.app[CLOCK].now()),
    )
    return SaveOut(applied=result.applied, score=await _describe(call.scope, result.score))


@api.route(
    "PUT",
    OWN,
    summary="Autosave my draft (the whole draft with the browser's revision counter)",
    tags=("scores",),
    permission="scores.own",
    body=DraftIn,
    response=SaveOut,
)
async def put_own(call: Call) -> SaveOut:
    return await _save(call, call.staff, call.path("session_id"), call.path("applicant_id"))


@api.route(
    "POST",
    OWN + "/submit",
    summary="Submit my score (422 `missing_required` lists each unanswered required item)",
    tags=("scores",),
    permission="scores.own",
    body=DraftIn,
    response=ScoreOut,
)
async def submit_own(call: Call) -> ScoreOut:
    session, owner = await resolve_owner(
        call.scope, call.staff.id, call.path("session_id"), call.path("applicant_id")
    )
    body: DraftIn = call.body
    score = await scores.submit(
        call.scope,
        owner,
        answers=body.answers,
        comment=body.comment,
        revision=body.revision,
        locked=session.scoring_locked,
        now=to_datetime(call.request.app[CLOCK].now()),
    )
    return await _describe(call.scope, score)


# --- by id ----------------------------------------------------------------------------------


class ScoresQuery(BaseModel):
    session_id: RowId | None = None
    applicant_id: RowId | None = None


@api.route(
    "GET",
    "/scores",
    summary="Scores: all of them for directors and coordinators, your own for interviewers",
    tags=("scores",),
    permission="scores.own",
    query=ScoresQuery,
    response=list[ScoreOut],
)
async def list_scores(call: Call) -> list[ScoreOut]:
    criteria: list[Any] = []
    if not allowed(call.staff, "scores.read_all"):
        criteria.append(Score.interviewer_id == call.staff.id)
    if call.query.session_id:
        criteria.append(Score.session_id == call.query.session_id)
    if call.query.applicant_id:
        criteria.append(Score.applicant_id == call.query.applicant_id)
    rows = await call.scope.all(Score, *criteria)
    rows.sort(key=lambda s: (s.session_id, s.applicant_id, s.interviewer_id))
    return [await _describe(call.scope, s) for s in rows]


@api.route(
    "GET",
    "/scores/{score_id}",
    summary="One score (yours, or anyone's for directors and coordinators)",
    tags=("scores",),
    permission="scores.own",
    response=ScoreOut,
)
async def get_score(call: Call) -> ScoreOut:
    return await _describe(call.scope, await _visible_score(call))


@api.route(
    "PUT",
    "/scores/{score_id}",
    summary="Autosave one of your own scores by id",
    tags=("scores",),
    permission="scores.own",
    body=DraftIn,
    response=SaveOut,
)
async def put_score(call: Call) -> SaveOut:
    score = await call.scope.get(Score, call.path("score_id"), what="score")
    if score.interviewer_id != call.staff.id:
        raise NotFound(f"No score with id {score.id!r}", field="id")
    return await _save(call, call.staff, score.session_id, score.applicant_id)


# --- locking --------------------------------------------------------------------------------


@api.route(
    "POST",
    "/sessions/{session_id}/scoring-lock",
    summary="Lock or unlock scoring for a session (locked scores are read-only)",
    tags=("scores",),
    permission="scores.lock",
    body=LockIn,
    response=LockOut,
)
async def set_lock(call: Call) -> LockOut:
    session = await call.scope.get(InterviewSession, call.path("session_id"), what="session")
    locked: bool = call.body.locked
    if session.scoring_locked != locked:
        record(
            call.db,
            call.staff,
            "scores.lock" if locked else "scores.unlock",
            "session",
            session.id,
            old=session.scoring_locked,
            new=locked,
        )
        session.scoring_locked = locked
    return LockOut(session_id=session.id, locked=session.scoring_locked)
