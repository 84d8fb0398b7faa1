"""The audit log: who did what to which object, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, to_datetime
from portal.models import AuditEntry
from portal.permissions import Actor


def record(
    db: AsyncSession,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    program_id: str | None = None,
    clock: Clock | None = None,
    **details: Any,
) -> AuditEntry:
    """Adds an entry to the caller's transaction, so it is kept exactly when the change is."""
    if program_id is None:
        if actor is None:
            raise ValueError("an audit entry needs a program")
        program_id = actor.program_id
    entry = AuditEntry(
        program_id=program_id,
        actor_kind=actor.kind if actor else "system",
        actor_id=actor.id if actor else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
    if clock is not None:
        entry.at = to_datetime(clock.now())
    db.add(entry)
    return entry
