import asyncio

import pytest

from core.clock import FakeClock, SystemClock


async def test_fake_clock_wakes_sleepers_in_order() -> None:
    clock = FakeClock(start=100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("late", 130)), asyncio.create_task(sleeper("early", 110))]
    await asyncio.sleep(0)
    assert clock.pending_sleepers == 2
    await clock.advance(5)
    assert woke == []
    await clock.advance(10)
    assert woke == [("early", 110.0)]
    await clock.advance(100)
    assert woke == [("early", 110.0), ("late", 130.0)]
    assert clock.now() == 215.0
    await asyncio.gather(*tasks)


async def test_past_deadline_returns_at_once() -> None:
    clock = FakeClock(start=50.0)
    await asyncio.wait_for(clock.sleep_until(10.0), timeout=1)


async def test_fake_clock_never_goes_back() -> None:
    with pytest.raises(ValueError):
        await FakeClock().advance(-1)


async def test_system_clock_is_real_time() -> None:
    import time

    clock = SystemClock()
    assert abs(clock.now() - time.time()) < 1
    await clock.sleep_until(clock.now() - 1)
