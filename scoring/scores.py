"""Scores: one interviewer's answers for one applicant in one session, saved as they are typed.

The rules:

- **Answers** are keyed by item id. A rating item takes a whole number on its scale, a yes/no
  item `true`/`false`, a comment item text. `None` (or an empty text) is "not answered yet".
- **Revisions**: the browser counts its own changes and sends the count with the whole draft.
  A save whose revision is not above the stored one is older than what the server holds (two
  requests crossed on a slow network) and is ignored, so an older save never overwrites a
  newer one.
- **Submit** needs every required item answered; the error names each missing item.
- **After submitting** the interviewer may still change the score (it stays counted) until
  scoring is locked for the session. Emptying a required item puts it back to draft: an
  incomplete sheet is never counted silently.
- **Locked**: once a coordinator locks the session's scoring, nothing changes (409).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import AppError, Conflict, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from scoring import aggregate
from scoring.models import Score, ScoreExclusion, ScoreOverride, ScoringItem

COMMENT_MAX = 10_000
Answer = int | bool | str


class MissingAnswers(ValidationFailed):
    """422 naming every required item still unanswered, so the panel marks each one."""

    code = "missing_required"

    def __init__(self, missing: Sequence[ScoringItem]) -> None:
        labels = ", ".join(item.label for item in missing)
        super().__init__(
            f"Answer the required items before submitting: {labels}.",
            field=f"answers.{missing[0].id}",
        )
        self.missing = [item.id for item in missing]

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = super().body()
        body["error"]["missing"] = self.missing
        return body


def scoring_locked_error() -> AppError:
    return Conflict(
        "Scoring is locked for this session: scores can no longer be changed.",
        code="scoring_locked",
    )


# --- pure rules --------------------------------------------------------------------------------


def clean_answers(items: Sequence[ScoringItem], raw: Mapping[str, Any]) -> dict[str, Answer]:
    """The answers checked against the form; unanswered items are left out.

    Raises `ValidationFailed` naming the first answer that does not fit its item.
    """
    by_id = {item.id: item for item in items}
    cleaned: dict[str, Answer] = {}
    for item_id, value in raw.items():
        item = by_id.get(item_id)
        field = f"answers.{item_id}"
        if item is None:
            raise ValidationFailed("This item is not on the scoring form.", field=field)
        if value is None:
            continue
        if item.kind == "rating":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationFailed(f"{item.label}: choose a number.", field=field)
            if not math.isfinite(value) or value != int(value):
                raise ValidationFailed(f"{item.label}: choose a whole number.", field=field)
            if not item.scale_min <= value <= item.scale_max:
                raise ValidationFailed(
                    f"{item.label}: choose from {item.scale_min} to {item.scale_max}.",
                    field=field,
                )
            cleaned[item_id] = int(value)
        elif item.kind == "yes_no":
            if not isinstance(value, bool):
                raise ValidationFailed(f"{item.label}: answer yes or no.", field=field)
            cleaned[item_id] = value
        else:
            if not isinstance(value, str):
                raise ValidationFailed(f"{item.label}: write text.", field=field)
            if len(value) > COMMENT_MAX:
                raise ValidationFailed(
                    f"{item.label}: keep it under {COMMENT_MAX} characters.", field=field
                )
            check_text(value, field=field, max_length=COMMENT_MAX, multiline=True, label=item.label)
            if value.strip():
                cleaned[item_id] = value
    return cleaned


def missing_required(items: Sequence[ScoringItem], answers: Mapping[str, Any]) -> list[ScoringItem]:
    """The required items without an answer, in form order."""
    return [item for item in items if item.required and _unanswered(answers.get(item.id))]


def _unanswered(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_newer(incoming_revision: int, stored_revision: int) -> bool:
    return incoming_revision > stored_revision


def rating_items(items: Sequence[ScoringItem]) -> list[aggregate.Item]:
    """The items that carry a number into the score (yes/no and comments do not)."""
    return [
        aggregate.Item(item.id, item.weight, item.scale_min, item.scale_max)
        for item in items
        if item.kind == "rating" and item.weight > 0
    ]


def sheet_of(score: Score, items: Sequence[ScoringItem]) -> aggregate.ScoreSheet:
    """The score as `aggregate` reads it: its rating answers only (None where unrated)."""
    numbers: dict[str, float | None] = {}
    for item in rating_items(items):
        value = score.answers.get(item.id)
        numbers[item.id] = (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    return aggregate.ScoreSheet(
        score.interviewer_id, score.applicant_id, numbers, score.status == "submitted"
    )


# --- the database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """Whose score, for which applicant in which session, on which form and interview."""

    session_id: str
    applicant_id: str
    interviewer_id: str
    form_id: str
    interview_id: str | None


@dataclass(frozen=True)
class SaveResult:
    score: Score
    applied: bool


async def items_by_form(
    scope: ProgramScope, form_ids: Sequence[str]
) -> dict[str, list[ScoringItem]]:
    """Each form version's items in order."""
    by_form: dict[str, list[ScoringItem]] = {form_id: [] for form_id in form_ids}
    if not form_ids:
        return by_form
    rows = await scope.db.scalars(
        scope.select(ScoringItem, ScoringItem.form_id.in_(list(set(form_ids)))).order_by(
            ScoringItem.position, ScoringItem.id
        )
    )
    for item in rows:
        by_form[item.form_id].append(item)
    return by_form


async def find_own(
    scope: ProgramScope, session_id: str, applicant_id: str, interviewer_id: str
) -> Score | None:
    return (
        await scope.db.scalars(
            scope.select(
                Score,
                Score.session_id == session_id,
                Score.applicant_id == applicant_id,
                Score.interviewer_id == interviewer_id,
            )
        )
    ).first()


async def save_draft(
    scope: ProgramScope,
    owner: Owner,
    *,
    answers: Mapping[str, Any],
    comment: str,
    revision: int,
    locked: bool,
    now: datetime,
) -> SaveResult:
    """Stores the whole draft if `revision` is newer than the stored one."""
    if locked:
        raise scoring_locked_error()
    score = await find_own(scope, owner.session_id, owner.applicant_id, owner.interviewer_id)
    form_id = score.form_id if score else owner.form_id
    items = (await items_by_form(scope, [form_id]))[form_id]
    cleaned = clean_answers(items, answers)
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(f"Keep the comment under {COMMENT_MAX} characters.", field="comment")
    check_text(
        comment, field="comment", max_length=COMMENT_MAX, multiline=True, label="The comment"
    )
    if score is None:
        score = scope.add(
            Score(
                session_id=owner.session_id,
                applicant_id=owner.applicant_id,
                interviewer_id=owner.interviewer_id,
                interview_id=owner.interview_id,
                form_id=form_id,
                answers={},
                comment="",
                status="draft",
                revision=0,
                updated_at=now,
            )
        )
    elif not is_newer(revision, score.revision):
        return SaveResult(score, applied=False)
    score.answers = cleaned
    score.comment = comment
    score.revision = revision
    score.updated_at = now
    if score.status == "submitted" and missing_required(items, cleaned):
        score.status = "draft"
        score.submitted_at = None
    await scope.db.flush()
    return SaveResult(score, applied=True)


async def submit(
    scope: ProgramScope,
    owner: Owner,
    *,
    answers: Mapping[str, Any],
    comment: str,
    revision: int,
    locked: bool,
    now: datetime,
) -> Score:
    """Saves the draft (if newer) and submits it; raises `MissingAnswers` if incomplete."""
    saved = await save_draft(
        scope, owner, answers=answers, comment=comment, revision=revision, locked=locked, now=now
    )
    score = saved.score
    items = (await items_by_form(scope, [score.form_id]))[score.form_id]
    missing = missing_required(items, score.answers)
    if missing:
        raise MissingAnswers(missing)
    if score.status != "submitted":
        score.status = "submitted"
        score.submitted_at = now
    await scope.db.flush()
    return score


# --- exclusions and overrides ------------------------------------------------------------------

REASON_MAX = 2000


def clean_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise ValidationFailed("Write the reason: it is shown with the change.", field="reason")
    if len(cleaned) > REASON_MAX:
        raise ValidationFailed(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    check_text(cleaned, field="reason", max_length=REASON_MAX, multiline=True, label="The reason")
    return cleaned


def checked_override_value(value: float, target_range: tuple[float, float]) -> float:
    low, high = target_range
    if not (math.isfinite(value) and low <= value <= high):
        raise ValidationFailed(f"Choose a final score from {low:g} to {high:g}.", field="value")
    return value


async def set_exclusion(
    scope: ProgramScope,
    applicant_id: str,
    interviewer_id: str,
    reason: str,
    *,
    actor_id: str,
    now: datetime,
) -> ScoreExclusion:
    cleaned = clean_reason(reason)
    found = (
        await scope.db.scalars(
            scope.select(
                ScoreExclusion,
                ScoreExclusion.applicant_id == applicant_id,
                ScoreExclusion.interviewer_id == interviewer_id,
            )
        )
    ).first()
    if found is None:
        found = scope.add(ScoreExclusion(applicant_id=applicant_id, interviewer_id=interviewer_id))
    found.reason = cleaned
    found.created_by = actor_id
    found.created_at = now
    await scope.db.flush()
    return found


async def remove_exclusion(
    scope: ProgramScope, applicant_id: str, interviewer_id: str
) -> ScoreExclusion | None:
    found = (
        await scope.db.scalars(
            scope.select(
                ScoreExclusion,
                ScoreExclusion.applicant_id == applicant_id,
                ScoreExclusion.interviewer_id == interviewer_id,
            )
        )
    ).first()
    if found is not None:
        await scope.db.delete(found)
        await scope.db.flush()
    return found


async def set_override(
    scope: ProgramScope,
    applicant_id: str,
    value: float,
    reason: str,
    *,
    target_range: tuple[float, float],
    actor_id: str,
    now: datetime,
) -> ScoreOverride:
    cleaned = clean_reason(reason)
    checked = checked_override_value(value, target_range)
    found = await find_override(scope, applicant_id)
    if found is None:
        found = scope.add(ScoreOverride(applicant_id=applicant_id, value=checked, reason=cleaned))
    found.value = checked
    found.reason = cleaned
    found.created_by = actor_id
    found.created_at = now
    await scope.db.flush()
    return found


async def find_override(scope: ProgramScope, applicant_id: str) -> ScoreOverride | None:
    return (
        await scope.db.scalars(
            scope.select(ScoreOverride, ScoreOverride.applicant_id == applicant_id)
        )
    ).first()


async def remove_override(scope: ProgramScope, applicant_id: str) -> ScoreOverride | None:
    found = await find_override(scope, applicant_id)
    if found is not None:
        await scope.db.delete(found)
        await scope.db.flush()
    return found
