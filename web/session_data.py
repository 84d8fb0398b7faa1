"""Reads that join the packages for sessions: who is booked, staff and applicant names.

Only `web` may import every package, so the cross-package lookups the session screens need
live here, once.
"""

from __future__ import annotations

from core.scoping import ProgramScope
from portal.models import Applicant, Booking, Staff
from scoring.models import ScoringForm


async def booked_applicant_ids(scope: ProgramScope, session_id: str) -> list[str]:
    """In booking order; names break ties so a bulk booking has a stable order too."""
    rows = await scope.db.execute(
        scope.select(Booking)
        .join(Applicant, Applicant.id == Booking.applicant_id)
        .where(Booking.session_id == session_id, Booking.status == "scheduled")
        .order_by(
            Booking.position,
            Booking.created_at,
            Applicant.last_name,
            Applicant.first_name,
            Applicant.id,
        )
        .with_only_columns(Booking.applicant_id)
    )
    return [str(row[0]) for row in rows]


async def active_staff_names(scope: ProgramScope) -> dict[str, str]:
    rows = await scope.all(Staff, Staff.active.is_(True))
    return {s.id: s.name for s in sorted(rows, key=lambda s: s.name)}


async def applicant_names(scope: ProgramScope, ids: list[str] | None = None) -> dict[str, str]:
    criteria = [Applicant.id.in_(ids)] if ids is not None else []
    rows = await scope.all(Applicant, *criteria)
    return {a.id: a.display_name for a in rows}


async def form_ids(scope: ProgramScope) -> set[str]:
    return {f.id for f in await scope.all(ScoringForm)}


async def form_names(scope: ProgramScope) -> dict[str, str]:
    rows = await scope.all(ScoringForm, ScoringForm.is_current.is_(True))
    return {f.id: f"{f.name} (v{f.version})" for f in rows}
