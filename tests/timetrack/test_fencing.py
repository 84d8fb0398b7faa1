"""Fencing: once another process has claimed a day, nothing the earlier owner writes is kept
(its state, fired events, commands, statuses), on both databases; its runner stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.clock import FakeClock
from core.db import create_engine, create_session_factory
from tests.factories import World, build_world
from tests.timetrack.test_day import RecordingPorts, initial_state, plan_at
from timetrack.commands import Command
from timetrack.plan import ClockEvent
from timetrack.runner import DayRunner
from timetrack.store import DayStore, StaleOwner


@pytest.fixture
async def stored(db_url: str) -> AsyncIterator[tuple[Any, World]]:
    engine = create_engine(db_url)
    factory = create_session_factory(engine)
    world = await build_world(factory)
    yield factory, world
    await engine.dispose()


async def test_a_later_claim_refuses_every_write_of_the_earlier_owner(
    stored: tuple[Any, World], clock: FakeClock
) -> None:
    factory, world = stored
    state = initial_state(world.a.session_id, clock.now())
    earlier = DayStore(factory, world.a.program_id, world.a.session_id)
    await earlier.save(state, "running")
    assert await earlier.claim() == 1
    await earlier.save(state, "running")  # still the latest claim: accepted

    later = DayStore(factory, world.a.program_id, world.a.session_id)
    assert await later.claim() == 2
    event = ClockEvent(at=clock.now(), kind="knock", round=1)
    with pytest.raises(StaleOwner):
        await earlier.save(state, "ended")
    with pytest.raises(StaleOwner):
        await earlier.fire(event, clock.now(), {})
    with pytest.raises(StaleOwner):
        await earlier.fire_many([(event, {})], clock.now())
    with pytest.raises(StaleOwner):
        await earlier.record_command("c1", "pause", {}, None, clock.now(), {"ok": True})
    with pytest.raises(StaleOwner):
        await earlier.set_statuses({(1, "r1"): "completed"})

    loaded = await later.load()
    assert loaded is not None
    assert loaded.fired == frozenset()  # the refused event was not recorded
    assert await later.command_result("c1") is None
    assert await later.fire(event, clock.now(), {})  # the new owner fires it, once


async def test_a_fenced_out_runner_stops_and_says_so(
    stored: tuple[Any, World], clock: FakeClock
) -> None:
    factory, world = stored
    state = initial_state(world.a.session_id, clock.now())
    store = DayStore(factory, world.a.program_id, world.a.session_id)
    await store.save(state, "ready")
    await store.claim()
    lost: list[str] = []
    runner = DayRunner(
        state=state,
        fired=frozenset(),
        store=store,
        ports=RecordingPorts(clock),
        clock=clock,
        plan_at=plan_at,
        on_lost=lambda: lost.append("lost"),
    )
    assert (await runner.command("a", Command("start")))["ok"]
    await DayStore(factory, world.a.program_id, world.a.session_id).claim()  # another node
    with pytest.raises(StaleOwner):
        await runner.command("b", Command("pause"))
    assert runner.lost and lost == ["lost"]
    await runner.stop()
