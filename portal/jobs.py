"""Background work on the injected clock: release times, retries, reminders, waitlist windows,
schedule-change emails.

`due(timers, now)` and `next_wake(...)` are pure: given the moments things become due, which
are due now and when to look again. `run_forever` is the loop around them; it sleeps on the
`Clock` (so tests move it with `FakeClock.advance`) and wakes early when poked (new mail queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from core.clock import Clock, to_datetime

JobKind = Literal["deliver", "offer_expiry", "reminders", "schedule_changes"]
POLL = timedelta(seconds=60)
log = logging.getLogger("interviewday.jobs")


@dataclass(frozen=True)
class Timer:
    kind: JobKind
    at: datetime


def due(timers: Sequence[Timer], now: datetime) -> list[JobKind]:
    """The kinds of work due at `now`, each once, in a fixed order."""
    order: tuple[JobKind, ...] = ("offer_expiry", "reminders", "schedule_changes", "deliver")
    ready = {t.kind for t in timers if t.at <= now}
    return [kind for kind in order if kind in ready]


def next_wake(timers: Sequence[Timer], now: datetime, poll: timedelta = POLL) -> datetime:
    """The earliest future timer, but never later than one poll away (other nodes queue work
    too, and we do not hear of it)."""
    later = [t.at for t in timers if t.at > now]
    return min([*later, now + poll])


Collect = Callable[[datetime], Awaitable[list[Timer]]]
Run = Callable[[list[JobKind], datetime], Awaitable[None]]


@dataclass
class Loop:
    clock: Clock
    collect: Collect
    run: Run
    poll: timedelta = POLL
    woken: asyncio.Event | None = None
    # One pass at a time per process: a caller of `once` waits for a pass already running,
    # so when it returns everything due has been done.
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wake(self) -> None:
        if self.woken is not None:
            self.woken.set()

    async def once(self) -> datetime:
        """Does what is due now; returns when to look again."""
        async with self.busy:
            return await self._pass()

    async def _pass(self) -> datetime:
        now = to_datetime(self.clock.now())
        timers = await self.collect(now)
        kinds = due(timers, now)
        if kinds:
            await self.run(kinds, now)
            timers = await self.collect(now)
        return next_wake(timers, now, self.poll)

    async def run_forever(self) -> None:
        self.woken = asyncio.Event()
        while True:
            try:
                wake_at = await self.once()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad pass must not stop reminders for good
                log.exception("background jobs failed; trying again later")
                wake_at = to_datetime(self.clock.now()) + self.poll
            await self._sleep(wake_at)

    async def _sleep(self, until: datetime) -> None:
        assert self.woken is not None
        sleeper = asyncio.ensure_future(self.clock.sleep_until(until.timestamp()))
        poked = asyncio.ensure_future(self.woken.wait())
        try:
            await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, poked):
                task.cancel()
            self.woken.clear()
