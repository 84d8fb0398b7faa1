"""Waitlists, both kinds, with the response window driven by a FakeClock through the jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock, to_datetime
from core.errors import Conflict
from core.scoping import ProgramScope
from core.security import Passwords, Tokens
from portal import outbox
from portal.auth import Auth
from portal.models_mail import OutboxMessage, WaitlistOffer
from portal.waitlists import waiting
from tests.conftest import make_settings
from tests.factories import World
from tests.portal.test_scheduling import (
    act,
    add_applicants,
    add_session,
    as_applicant,
    scheduled_ids,
    set_options,
)
from web.api import scheduling as actions
from web.jobs import Jobs

Factory = async_sessionmaker[AsyncSession]


def jobs_for(factory: Factory, clock: FakeClock, db_url: str, tmp_path: Path) -> Jobs:
    settings = make_settings(db_url, tmp_path)
    auth = Auth(Passwords(), Tokens(settings.secret_key, clock), clock)
    return Jobs(factory, clock, settings, auth, outbox.DatabaseOutbox())


async def offers_to(factory: Factory, program_id: str, applicant_id: str) -> list[WaitlistOffer]:
    async with factory() as db:
        return await ProgramScope(db, program_id).all(
            WaitlistOffer, WaitlistOffer.applicant_id == applicant_id
        )


async def full_session_with_waitlist(
    factory: Factory, world: World, mode: str, clock: FakeClock
) -> tuple[str, str, list[str]]:
    """A one-seat session held by `holder`, with three applicants waiting in order."""
    a = world.a
    await set_options(factory, a, waitlist_mode=mode, offer_hours=2)
    session_id = await add_session(factory, a, "Popular", 1)
    holder, *waiting = await add_applicants(factory, a, 4)
    now = to_datetime(clock.now())
    booking = await act(factory, a, actions.book, as_applicant(a, holder), session_id, now)
    for applicant_id in waiting:
        await act(factory, a, actions.join_waitlist, as_applicant(a, applicant_id), session_id, now)
    return session_id, booking.id, [holder, *waiting]


async def test_sequential_offer_lapses_to_the_next_and_the_lapser_goes_last(
    factory: Factory, two_programs: World, db_url: str, tmp_path: Path
) -> None:
    a = two_programs.a
    clock = FakeClock()
    jobs = jobs_for(factory, clock, db_url, tmp_path)
    session_id, booking_id, (holder, first, second, third) = await full_session_with_waitlist(
        factory, two_programs, "sequential", clock
    )
    now = to_datetime(clock.now())
    await act(factory, a, actions.cancel, as_applicant(a, holder), booking_id, now)
    [offer] = await offers_to(factory, a.program_id, first)
    assert offer.status == "open" and offer.expires_at == to_datetime(clock.now() + 7200)
    assert await offers_to(factory, a.program_id, second) == []
    # The seat is held for the one with the offer: nobody else can take it meanwhile.
    [walk_in] = await add_applicants(factory, a, 1)
    with pytest.raises(Conflict):
        await act(factory, a, actions.book, as_applicant(a, walk_in), session_id, now)

    await clock.advance(7199)
    await jobs.run_due()
    assert (await offers_to(factory, a.program_id, first))[0].status == "open"
    await clock.advance(1)
    await jobs.run_due()
    assert (await offers_to(factory, a.program_id, first))[0].status == "lapsed"
    [passed_on] = await offers_to(factory, a.program_id, second)
    assert passed_on.status == "open"
    with pytest.raises(Conflict) as lapsed:
        await act(factory, a, actions.claim_offer, as_applicant(a, first), offer.id, now)
    assert lapsed.value.code == "offer_lapsed"

    claimed = await act(
        factory,
        a,
        actions.claim_offer,
        as_applicant(a, second),
        passed_on.id,
        to_datetime(clock.now()),
    )
    assert claimed.booking.status == "scheduled"
    assert await scheduled_ids(factory, a, session_id) == [second]
    async with factory() as db:
        scope = ProgramScope(db, a.program_id)
        emails = await scope.all(OutboxMessage, OutboxMessage.kind == "waitlist_offer")
        assert sorted(e.applicant_id or "" for e in emails) == sorted([first, second])
    # The one who let it lapse is now behind the third.
    async with factory() as db:
        line = [b.applicant_id for b in await waiting(ProgramScope(db, a.program_id), session_id)]
    assert line == [third, first]


async def test_first_come_tells_everyone_and_the_first_claim_wins(
    factory: Factory, two_programs: World, db_url: str, tmp_path: Path
) -> None:
    a = two_programs.a
    clock = FakeClock()
    session_id, booking_id, (holder, first, second, third) = await full_session_with_waitlist(
        factory, two_programs, "first_come", clock
    )
    now = to_datetime(clock.now())
    await act(factory, a, actions.cancel, as_applicant(a, holder), booking_id, now)
    offers = {p: await offers_to(factory, a.program_id, p) for p in (first, second, third)}
    assert all(len(o) == 1 and o[0].status == "open" for o in offers.values())
    await act(factory, a, actions.claim_offer, as_applicant(a, third), offers[third][0].id, now)
    with pytest.raises(Conflict) as taken:
        await act(factory, a, actions.claim_offer, as_applicant(a, first), offers[first][0].id, now)
    assert taken.value.code == "offer_taken" and "first" in taken.value.message
    assert await scheduled_ids(factory, a, session_id) == [third]
    jobs = jobs_for(factory, clock, db_url, tmp_path)
    await jobs.run_due()
    async with factory() as db:
        sent = await ProgramScope(db, a.program_id).all(
            OutboxMessage, OutboxMessage.kind == "waitlist_offer", OutboxMessage.status == "sent"
        )
    assert len(sent) == 3
    assert all(m.body_text and "first to claim" in m.body_text for m in sent)


async def test_claiming_with_a_seat_elsewhere_moves_it_and_offers_the_old_one(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    clock = FakeClock()
    session_id, booking_id, (holder, first, *_) = await full_session_with_waitlist(
        factory, two_programs, "sequential", clock
    )
    other = await add_session(factory, a, "Other", 1)
    now = to_datetime(clock.now())
    # `first` took a seat elsewhere while waiting for the popular session.
    await act(factory, a, actions.book, as_applicant(a, first), other, now)
    await act(factory, a, actions.cancel, as_applicant(a, holder), booking_id, now)
    [offer] = await offers_to(factory, a.program_id, first)
    await act(factory, a, actions.claim_offer, as_applicant(a, first), offer.id, now)
    assert await scheduled_ids(factory, a, session_id) == [first]
    assert await scheduled_ids(factory, a, other) == []
