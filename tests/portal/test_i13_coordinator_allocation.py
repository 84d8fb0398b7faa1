"""Coordinator placement without a preference window (issue 13, item 6), on SQLite and
PostgreSQL: who is still waiting, in invitation order, and an allocation run on the choices
sent that passes over a session whose deadline has passed instead of failing."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import to_datetime
from core.scoping import ProgramScope
from portal import allocation
from portal.models import Booking, Invitation
from tests.factories import World
from tests.portal.test_scheduling import (
    CLOCK_START,
    act,
    add_applicants,
    add_session,
    as_applicant,
    director,
    scheduled_ids,
    set_options,
)
from web.api import scheduling as actions

Factory = async_sessionmaker[AsyncSession]
NOW = to_datetime(CLOCK_START)


async def test_waiting_lists_the_unseated_in_invitation_order(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    await set_options(factory, a, self_scheduling=False)
    roomy = await add_session(factory, a, "Roomy", 5)
    tiny = await add_session(factory, a, "Tiny", 1)
    late, early, seated = await add_applicants(factory, a, 3)
    async with factory() as db, db.begin():
        for applicant_id, days_ago in ((late, 1), (early, 3), (seated, 5)):
            db.add(
                Invitation(
                    program_id=a.program_id,
                    applicant_id=applicant_id,
                    idempotency_key=f"k-{applicant_id}",
                    status="sent",
                    sent_at=NOW - timedelta(days=days_ago),
                )
            )
        db.add(Booking(program_id=a.program_id, session_id=roomy, applicant_id=seated))
        db.add(
            Booking(
                program_id=a.program_id,
                session_id=tiny,
                applicant_id=early,
                status="waitlisted",
                position=1,
            )
        )
    await act(factory, a, actions.choose, as_applicant(a, late), [tiny, roomy], NOW)
    async with factory() as db:
        rows = await allocation.waiting(ProgramScope(db, a.program_id))
    ids = [w.applicant.id for w in rows]
    # Invited by email first (earliest first), then the world's two invited by hand.
    assert ids[:2] == [early, late]
    assert set(ids[2:]) == {a.applicant_id, a.other_applicant_id} and seated not in ids
    by_id = {w.applicant.id: w for w in rows}
    assert by_id[late].choices == (tiny, roomy) and by_id[early].choices == ()
    assert by_id[early].waitlisted == (tiny,)
    assert by_id[early].invited_at == NOW - timedelta(days=3)


async def test_a_run_without_a_window_skips_sessions_past_their_deadline(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    await set_options(factory, a, self_scheduling=False, manage_deadline_days=10)
    closing = await add_session(factory, a, "Next week", 5, day=date(2027, 1, 20))
    later = await add_session(factory, a, "March", 5, day=date(2027, 3, 1))
    await act(factory, a, actions.choose, as_applicant(a, a.applicant_id), [closing, later], NOW)
    run = await act(factory, a, actions.run_allocation, director(a), 3, NOW)
    assert run.seated == {a.applicant_id: later}
    assert run.capacities[closing] == 0
    assert allocation.replay(run).seated == run.seated
    assert await scheduled_ids(factory, a, later) == [a.applicant_id]
