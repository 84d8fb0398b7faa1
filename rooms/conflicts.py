"""Conflicts of interest: an applicant and an interviewer who must never meet.

Applicants and staff belong to `portal`, which `rooms` does not import: the caller hands in a
`Parties` port that checks both ids (and the interviewer's role) in the program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from rooms.models import ConflictOfInterest, Interview, RoomInterviewer

REASON_MAX = 1000


class Parties(Protocol):
    """Raises `NotFound` (field `applicant_id` / `staff_id`) or `ValidationFailed`."""

    async def check_applicant(self, applicant_id: str) -> None: ...

    async def check_interviewer(self, staff_id: str) -> None: ...


@dataclass(frozen=True)
class ConflictSpec:
    applicant_id: str
    staff_id: str
    reason: str | None = None


def clean_reason(reason: str | None) -> str | None:
    text = (reason or "").strip()
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    check_text(text, field="reason", max_length=REASON_MAX, label="The reason")
    return text or None


async def list_conflicts(
    scope: ProgramScope, *, applicant_id: str | None = None, staff_id: str | None = None
) -> list[ConflictOfInterest]:
    criteria = []
    if applicant_id is not None:
        criteria.append(ConflictOfInterest.applicant_id == applicant_id)
    if staff_id is not None:
        criteria.append(ConflictOfInterest.staff_id == staff_id)
    return await scope.all(ConflictOfInterest, *criteria)


async def add_conflict(
    scope: ProgramScope, parties: Parties, spec: ConflictSpec
) -> ConflictOfInterest:
    reason = clean_reason(spec.reason)
    await parties.check_applicant(spec.applicant_id)
    await parties.check_interviewer(spec.staff_id)
    existing = await scope.all(
        ConflictOfInterest,
        ConflictOfInterest.applicant_id == spec.applicant_id,
        ConflictOfInterest.staff_id == spec.staff_id,
    )
    if existing:
        raise Conflict(
            "This conflict of interest is already recorded.", field="staff_id", code="duplicate"
        )
    conflict = scope.add(
        ConflictOfInterest(applicant_id=spec.applicant_id, staff_id=spec.staff_id, reason=reason)
    )
    await scope.db.flush()
    return conflict


async def update_reason(
    scope: ProgramScope, conflict_id: str, reason: str | None
) -> ConflictOfInterest:
    conflict = await scope.get(ConflictOfInterest, conflict_id, what="conflict of interest")
    conflict.reason = clean_reason(reason)
    await scope.db.flush()
    return conflict


async def remove_conflict(scope: ProgramScope, conflict_id: str) -> ConflictOfInterest:
    conflict = await scope.get(ConflictOfInterest, conflict_id, what="conflict of interest")
    await scope.db.delete(conflict)
    await scope.db.flush()
    return conflict


async def scheduled_meetings(scope: ProgramScope, applicant_id: str, staff_id: str) -> int:
    """How many interviews already put this pair in one room (the itinerary needs a fix)."""
    statement = (
        scope.select(Interview, Interview.applicant_id == applicant_id)
        .join(RoomInterviewer, RoomInterviewer.room_id == Interview.room_id)
        .where(RoomInterviewer.staff_id == staff_id)
        .with_only_columns(func.count())
    )
    return int(await scope.db.scalar(statement) or 0)
