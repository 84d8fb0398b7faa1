from __future__ import annotations

import asyncio
import socket
import time

from media.loop import CoalescingSelector, new_event_loop


def test_coalescing_selector_batches_and_then_blocks() -> None:
    selector = CoalescingSelector(window=0.005)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    selector.register(a, 1)
    real_select = selector.select

    b.send(b"x")
    assert len(real_select(1.0)) == 1  # blocking select returns at once with data
    a.recv(10)
    # Busy: the next select first waits the window, collecting what arrived meanwhile.
    b.send(b"y")
    start = time.monotonic()
    assert len(real_select(1.0)) == 1
    assert time.monotonic() - start >= 0.004
    a.recv(10)
    # Nothing arrives within the window: back to a plain blocking select (no spinning).
    start = time.monotonic()
    assert real_select(0.05) == []
    assert time.monotonic() - start >= 0.045
    assert not selector._busy
    selector.close()
    a.close()
    b.close()


def test_loop_runs_coroutines_and_timers() -> None:
    loop = new_event_loop(0.002)
    try:

        async def work() -> float:
            start = loop.time()
            await asyncio.sleep(0.02)
            return loop.time() - start

        assert 0.02 <= loop.run_until_complete(work()) < 0.2
    finally:
        loop.close()
