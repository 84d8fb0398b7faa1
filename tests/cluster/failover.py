"""The failover scenario on a running day: kill -9 of the owner, its return, SIGTERM of the
next owner; what clients saw, measured from outside (the proxy, the bots, each node's /metrics).

Figures (bench/failover.py prints them, tests/cluster/test_failover.py holds them to targets):
- `takeover_s`: from the kill until the day is served again through the proxy by a live owner;
- `media_back_p95_s`: from the kill until each participant receives its current partner's
  video again (participants whose partner did not come back count as misses);
- `wrong_room`: participants back in another room than the itinerary's current round says;
- `two_tickers`: polls (every 100 ms, all live nodes) that found more than one node running
  the day's clock;
- `user_errors`: 5xx or 409 answers any client got from the kill on;
- `drain_gap_s`: the longest time, during the drain, that the day was not served;
- `drain_reconnects_max`: the most reconnects one participant needed during the drain;
- `took_back`: whether the killed node, restarted, took the session back (it must not).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.cluster.day import RunningDay, wait_all_decoding
from tests.cluster.harness import client_session

MEDIA_WITHIN_S = 30.0


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Figures:
    nodes: int
    takeover_s: float | None = None
    media_back_p95_s: float | None = None
    media_misses: int = 0
    wrong_room: int = 0
    two_tickers: int = 0
    user_errors: int = 0
    drain_gap_s: float | None = None
    drain_media_p95_s: float | None = None
    drain_misses: int = 0
    drain_reconnects_max: int = 0
    """The most times one participant's connection dropped during the drain (target: 1)."""
    took_back: bool = False
    same_round: bool = False
    same_deadline: bool = False
    error_detail: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "takeover_s": _round(self.takeover_s),
            "media_back_p95_s": _round(self.media_back_p95_s),
            "media_misses": self.media_misses,
            "wrong_room": self.wrong_room,
            "two_tickers": self.two_tickers,
            "user_errors": self.user_errors,
            "drain_gap_s": _round(self.drain_gap_s),
            "drain_media_p95_s": _round(self.drain_media_p95_s),
            "drain_misses": self.drain_misses,
            "drain_reconnects_max": self.drain_reconnects_max,
            "took_back": self.took_back,
            "same_round": self.same_round,
            "same_deadline": self.same_deadline,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class TickerWatch:
    """Polls every live node's /metrics for `interviewday_day_runners`: more than one node
    with a runner at once is two tickers."""

    def __init__(self, day: RunningDay) -> None:
        self.day = day
        self.overlaps = 0
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        async with client_session(total_timeout=1) as http:
            while True:
                running = 0
                for node in self.day.topology.nodes:
                    if node.pid is None:
                        continue
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                        async with http.get(f"{node.url}/metrics") as response:
                            running += _runners(await response.text())
                self.polls += 1
                if running > 1:
                    self.overlaps += 1
                await asyncio.sleep(0.1)

    def __enter__(self) -> TickerWatch:
        self._task = asyncio.ensure_future(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def _runners(metrics: str) -> int:
    for line in metrics.splitlines():
        if line.startswith("interviewday_day_runners "):
            return int(float(line.split()[1]))
    return 0


async def _served_again(day: RunningDay, since: float, within: float) -> float | None:
    """Seconds from `since` until GET day answers 200 through the proxy (polls started after
    `since` only) and the lease names a live node."""
    deadline = since + within
    while time.monotonic() < deadline:
        started = time.monotonic()
        snapshot = await day.day()
        if snapshot is not None and started >= since:
            index = await day.owner_index()
            if index is not None and day.topology.node(index).pid is not None:
                return time.monotonic() - since
        await asyncio.sleep(0.05)
    return None


async def _gap_while(day: RunningDay, done: asyncio.Event) -> float:
    """The longest time between two successful GET day answers until `done`."""
    last_ok = time.monotonic()
    longest = 0.0
    while not done.is_set():
        snapshot = await day.day()
        now = time.monotonic()
        if snapshot is not None:
            longest = max(longest, now - last_ok)
            last_ok = now
        await asyncio.sleep(0.05)
    return max(longest, time.monotonic() - last_ok)


def _wrong_rooms(day: RunningDay, snapshot: dict[str, Any]) -> list[str]:
    wrong = []
    for person in day.people:
        expected = day.expected_room(snapshot, person)
        bot = person.bot
        actual = bot.room.get("room_key") if bot is not None else None
        if expected is not None and actual != expected:
            wrong.append(f"{person.name}: in {actual}, itinerary says {expected}")
    return wrong


async def measure_failover(day: RunningDay) -> Figures:
    top = day.topology
    figures = Figures(nodes=len(top.nodes))
    # Round 2, so "the room of the current round" differs from where the tokens first said.
    await day.command("skip")
    before = await day.day()
    assert before is not None and before["phase"]["round"] == 2, before
    settled = await wait_all_decoding(day, before, time.monotonic(), MEDIA_WITHIN_S)
    assert all(v is not None for v in settled.values()), f"not all in round 2 media: {settled}"

    owner = await day.owner_index()
    assert owner is not None, "nobody owns the running day"
    with TickerWatch(day) as tickers:
        # kill -9 of the owner ---------------------------------------------------------------
        errors_before = len(day.tally.errors)
        killed_at = time.monotonic()
        await top.kill(owner, signal.SIGKILL)
        await top.wait_exit(owner)  # at once: kill -9
        figures.takeover_s = await _served_again(day, killed_at, 30)
        after = await day.day()
        assert after is not None
        figures.same_round = after["phase"]["round"] == before["phase"]["round"]
        figures.same_deadline = after["phase"]["end"] == before["phase"]["end"]
        back = await wait_all_decoding(day, after, killed_at, MEDIA_WITHIN_S)
        figures.media_misses = sum(1 for v in back.values() if v is None)
        figures.media_back_p95_s = p95([v for v in back.values() if v is not None])
        wrong = _wrong_rooms(day, after)
        figures.wrong_room = len(wrong)
        figures.error_detail += wrong

        # the killed node comes back: it takes nothing back ------------------------------
        survivor = await day.owner_instance()
        await top.restart(owner)
        await top.wait_in_rotation({top.node(owner).node_id})
        await asyncio.sleep(3)  # three heartbeats: time for a node to (wrongly) claim
        figures.took_back = await day.owner_instance() != survivor

        # SIGTERM of the current owner: it drains -------------------------------------------
        draining = await day.owner_index()
        assert draining is not None
        done = asyncio.Event()
        gap = asyncio.ensure_future(_gap_while(day, done))
        drained_at = time.monotonic()
        await top.kill(draining, signal.SIGTERM)
        snapshot = await day.day()
        assert snapshot is not None
        moved, _ = await asyncio.gather(
            wait_all_decoding(day, snapshot, drained_at, MEDIA_WITHIN_S),
            top.wait_exit(draining),
        )
        done.set()
        figures.drain_gap_s = await gap
        figures.drain_misses = sum(1 for v in moved.values() if v is None)
        figures.drain_media_p95_s = p95([v for v in moved.values() if v is not None])
        figures.drain_reconnects_max = max(
            sum(1 for t in p.bot.disconnects if t > drained_at) for p in day.people if p.bot
        )
        wrong = _wrong_rooms(day, snapshot)
        figures.wrong_room += len(wrong)
        figures.error_detail += wrong
        await top.restart(draining)
    figures.two_tickers = tickers.overlaps
    new_errors = day.tally.errors[errors_before:]
    figures.user_errors = len(new_errors)
    figures.error_detail += [f"{what}: {status}" for _, what, status in new_errors]
    return figures
