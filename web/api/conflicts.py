"""Conflicts of interest: applicant and interviewer pairs that must never meet."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from portal.audit import record
from rooms import conflicts
from rooms.models import ConflictOfInterest
from web.api.fields import LongLine, RowId
from web.api.framework import Api, Call
from web.conflicts import ProgramParties

api = Api()
TAGS = ("conflicts",)


class ConflictIn(BaseModel):
    applicant_id: RowId
    staff_id: RowId
    reason: LongLine | None = None


class ReasonIn(BaseModel):
    reason: LongLine | None = None


class ListQuery(BaseModel):
    applicant_id: RowId | None = None
    staff_id: RowId | None = None


class ConflictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    applicant_id: str
    staff_id: str
    reason: str | None


class CreatedConflictOut(ConflictOut):
    already_scheduled_together: int


@api.route(
    "GET",
    "/conflicts",
    summary="List conflicts of interest, optionally of one applicant or staff member",
    tags=TAGS,
    permission="conflicts.read",
    query=ListQuery,
    response=list[ConflictOut],
)
async def list_conflicts(call: Call) -> list[ConflictOfInterest]:
    return await conflicts.list_conflicts(
        call.scope, applicant_id=call.query.applicant_id, staff_id=call.query.staff_id
    )


@api.route(
    "POST",
    "/conflicts",
    summary="Record that an applicant and an interviewer must never meet",
    tags=TAGS,
    permission="conflicts.write",
    body=ConflictIn,
    response=CreatedConflictOut,
    status=201,
)
async def create_conflict(call: Call) -> CreatedConflictOut:
    spec = conflicts.ConflictSpec(call.body.applicant_id, call.body.staff_id, call.body.reason)
    conflict = await conflicts.add_conflict(call.scope, ProgramParties(call.scope), spec)
    record(
        call.db,
        call.staff,
        "conflict.create",
        "conflict_of_interest",
        conflict.id,
        applicant_id=conflict.applicant_id,
        staff_id=conflict.staff_id,
    )
    together = await conflicts.scheduled_meetings(call.scope, spec.applicant_id, spec.staff_id)
    return CreatedConflictOut(
        **ConflictOut.model_validate(conflict).model_dump(), already_scheduled_together=together
    )


@api.route(
    "GET",
    "/conflicts/{conflict_id}",
    summary="One conflict of interest",
    tags=TAGS,
    permission="conflicts.read",
    response=ConflictOut,
)
async def get_conflict(call: Call) -> ConflictOfInterest:
    return await call.scope.get(
        ConflictOfInterest, call.path("conflict_id"), what="conflict of interest"
    )


@api.route(
    "PATCH",
    "/conflicts/{conflict_id}",
    summary="Change the reason of a conflict of interest",
    tags=TAGS,
    permission="conflicts.write",
    body=ReasonIn,
    response=ConflictOut,
)
async def update_conflict(call: Call) -> ConflictOfInterest:
    conflict = await conflicts.update_reason(call.scope, call.path("conflict_id"), call.body.reason)
    record(call.db, call.staff, "conflict.update", "conflict_of_interest", conflict.id)
    return conflict


@api.route(
    "DELETE",
    "/conflicts/{conflict_id}",
    summary="Remove a conflict of interest",
    tags=TAGS,
    permission="conflicts.write",
)
async def delete_conflict(call: Call) -> None:
    conflict = await conflicts.remove_conflict(call.scope, call.path("conflict_id"))
    record(
        call.db,
        call.staff,
        "conflict.delete",
        "conflict_of_interest",
        conflict.id,
        applicant_id=conflict.applicant_id,
        staff_id=conflict.staff_id,
    )
