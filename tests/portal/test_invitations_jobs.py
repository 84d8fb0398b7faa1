"""The jobs' pure rules (what is due at t, when to wake) and the loop on a FakeClock."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from core.clock import FakeClock, to_datetime
from portal.jobs import Loop, Timer, due, next_wake

T0 = to_datetime(FakeClock().now())


def test_due_lists_each_kind_once_in_order() -> None:
    timers = [
        Timer("deliver", T0),
        Timer("deliver", T0 - timedelta(minutes=5)),
        Timer("offer_expiry", T0 - timedelta(seconds=1)),
        Timer("reminders", T0 + timedelta(seconds=1)),
    ]
    assert due(timers, T0) == ["offer_expiry", "deliver"]
    assert due([], T0) == []


def test_next_wake_is_the_earliest_future_timer_or_one_poll() -> None:
    soon = Timer("reminders", T0 + timedelta(seconds=30))
    assert next_wake([soon, Timer("deliver", T0)], T0) == soon.at
    assert next_wake([Timer("deliver", T0 + timedelta(hours=2))], T0) == T0 + timedelta(seconds=60)


async def test_loop_wakes_on_the_clock_and_when_poked() -> None:
    clock = FakeClock()
    ran: list[tuple[str, datetime]] = []
    timers = [Timer("reminders", to_datetime(clock.now() + 30))]

    async def collect(now: datetime) -> list[Timer]:
        return [t for t in timers if (t.kind, t.at) not in {(k, a) for k, a in ran}]

    async def run(kinds: list[str], now: datetime) -> None:  # type: ignore[override]
        ran.extend((kind, now) for kind in kinds)
        timers.clear()

    loop = Loop(clock, collect, run)  # type: ignore[arg-type]
    task = asyncio.create_task(loop.run_forever())
    try:
        await clock.advance(0)
        assert ran == []
        await clock.advance(30)
        assert [k for k, _ in ran] == ["reminders"]
        timers.append(Timer("deliver", to_datetime(clock.now())))
        loop.wake()
        for _ in range(10):
            await asyncio.sleep(0)
        assert [k for k, _ in ran] == ["reminders", "deliver"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
