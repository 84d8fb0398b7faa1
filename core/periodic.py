"""A background step repeated every few seconds, stopped by an event rather than by cancelling.

A cancellation that arrives while a step is inside a Redis command can be swallowed by the
client library; a loop stopped only by `task.cancel()` then runs on, and whoever awaits it at
shutdown waits forever. Here the loop checks a stop event between steps and the shutdown waits
a bounded time before cancelling as a last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(
        self,
        step: Callable[[], Awaitable[None]],
        interval: float,
        *,
        name: str,
        log: logging.Logger,
        first_delay: float | None = None,
    ) -> None:
        self._step = step
        self._interval = interval
        self._first_delay = interval if first_delay is None else first_delay
        self._name = name
        self._log = log
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        delay = self._first_delay
        while not await self._stopped_within(delay):
            try:
                await self._step()
            except Exception:
                self._log.exception("%s failed", self._name)
            delay = self._interval

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stop.wait()
        return self._stop.is_set()

    async def stop(self, patience: float = 5.0) -> None:
        self._stop.set()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=patience)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=patience)
