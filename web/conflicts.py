"""The `rooms.conflicts.Parties` port, answered from portal's applicants and staff."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal.models import Applicant, Staff
from portal.permissions import can_switch


@dataclass(frozen=True)
class ProgramParties:
    scope: ProgramScope

    async def check_applicant(self, applicant_id: str) -> None:
        if not applicant_id:
            raise ValidationFailed("Choose an applicant.", field="applicant_id")
        if await self.scope.find(Applicant, applicant_id) is None:
            raise NotFound(f"No applicant with id {applicant_id!r}", field="applicant_id")

    async def check_interviewer(self, staff_id: str) -> None:
        if not staff_id:
            raise ValidationFailed("Choose an interviewer.", field="staff_id")
        staff = await self.scope.find(Staff, staff_id)
        if staff is None:
            raise NotFound(f"No staff member with id {staff_id!r}", field="staff_id")
        if not can_switch(staff.role, "interviewer"):
            raise ValidationFailed(
                f"{staff.name} cannot interview, so cannot be in a conflict of interest.",
                field="staff_id",
            )
