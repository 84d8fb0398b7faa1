"""The booking rules' data access, shared by the request API and the background jobs: reading
sessions with their seats locked for the transaction, the program's scheduling rules, and the
app's idea of now.

`portal.scheduling` holds the rules themselves; it may not import `rooms`, so reading a session
(rounds, window) for it happens here, in the web layer that sees both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import update

from core.clock import to_datetime
from core.errors import NotFound
from core.scoping import ProgramScope
from portal import scheduling
from portal.models import Program
from rooms.models import InterviewSession
from rooms.sessions import rounds_of, session_window
from web.keys import CLOCK


async def session_info(scope: ProgramScope, session: InterviewSession) -> scheduling.SessionInfo:
    start, end = session_window(session, await rounds_of(scope, session.id))
    return scheduling.SessionInfo(
        id=session.id,
        name=session.name,
        capacity=session.capacity,
        visible=session.visible,
        starts_at=start.astimezone(UTC),
        ends_at=end.astimezone(UTC),
        timezone=session.timezone,
        finalized=session.finalized_at is not None,
    )


async def lock_sessions(
    scope: ProgramScope, session_ids: Sequence[str]
) -> dict[str, scheduling.SessionInfo]:
    """Reads sessions for taking or giving up seats, locked until the transaction ends.

    PostgreSQL: `SELECT … FOR UPDATE`, in id order so two transactions never wait on each other
    in a circle. SQLite: a write to the rows first (a no-op UPDATE), which takes the database's
    single write lock before the seats are counted, so no other transaction can count the old
    number in between."""
    wanted = sorted(set(session_ids))
    if not wanted:
        return {}
    if scope.db.get_bind().dialect.name == "sqlite":
        await scope.db.execute(
            update(InterviewSession)
            .where(InterviewSession.program_id == scope.program_id, InterviewSession.id.in_(wanted))
            .values(capacity=InterviewSession.capacity)
            .execution_options(synchronize_session=False)
        )
        statement = scope.select(InterviewSession, InterviewSession.id.in_(wanted))
    else:
        statement = (
            scope.select(InterviewSession, InterviewSession.id.in_(wanted))
            .order_by(InterviewSession.id)
            .with_for_update()
        )
    statement = statement.execution_options(populate_existing=True)
    found = {s.id: s for s in await scope.db.scalars(statement)}
    for session_id in wanted:
        if session_id not in found:
            raise NotFound("This session is not open for booking.", field="session_id")
    return {s.id: await session_info(scope, s) for s in found.values()}


async def program_rules(scope: ProgramScope) -> scheduling.Rules:
    program = await scope.db.get(Program, scope.program_id)
    return scheduling.rules_of(program.options if program else {})


def now_of(app: web.Application) -> datetime:
    return to_datetime(app[CLOCK].now())
