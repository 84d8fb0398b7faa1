"""Pure bookkeeping for bench/sfu.py: attempts, the capacity search's stopping rule, targets.

Every join and every switch is an attempt: a (viewer, slot) whose layout names a source. Its
time is from when the viewer could first expect that source (the later of the two joins, or
the route) to the first frame the viewer's decoder produced from it; an attempt with no such
frame by the deadline is a miss, counted, never dropped.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Layouts = Mapping[str, Mapping[str, str | None]]

JOIN_P95_TARGET_MS = 700.0
SWITCH_P95_TARGET_MS = 300.0
RATIO_TO_LIMIT_TARGET = 3.0
FPS_FLOOR = 0.9
"""A slot receives at least this share of the published frame rate while the server keeps up."""
SLOW_SLOTS = 0.05
"""The share of slots allowed under FPS_FLOOR before the frame rate counts as degraded."""
BOTS_BUSY = 0.85
"""The bots' share of their core beyond which a degradation may be theirs, not the server's."""
STARVED = 0.15
"""The share of a window the server or the bots waited, runnable, for a CPU (other processes
had it) beyond which a degradation may be the machine's, not the server's."""


@dataclass(frozen=True)
class Attempt:
    viewer: str
    mid: str
    source: str
    label: str
    since: float
    """monotonic time from which the viewer could expect the source."""

    def delay_ms(self, decoded: Sequence[tuple[float, str]]) -> float | None:
        """From `since` to the first decoded frame of `label` at or after it; None: a miss."""
        first = min(
            (at for at, label in decoded if at >= self.since and label == self.label), default=None
        )
        return None if first is None else (first - self.since) * 1000


def join_attempts(
    layouts: Layouts,
    viewers: Mapping[str, Sequence[str]],
    joined_at: Mapping[str, float],
    label_of: Mapping[str, str],
) -> list[Attempt]:
    """Every video slot of every viewer in `viewers` (pid -> video mids) that shows a source."""
    attempts = []
    for viewer, mids in viewers.items():
        layout = layouts.get(viewer, {})
        for mid in mids:
            source = layout.get(mid)
            if source is not None:
                since = max(joined_at[viewer], joined_at[source])
                attempts.append(Attempt(viewer, mid, source, label_of[source], since))
    return attempts


def switch_attempts(
    before: Layouts,
    after: Layouts,
    video_mids: Mapping[str, Sequence[str]],
    routed_at: float,
    label_of: Mapping[str, str],
) -> tuple[list[Attempt], int]:
    """Every video slot whose source changed to another one; and how many of those changes a
    viewer cannot see (the new source has the old one's size, so no frame tells them apart)."""
    attempts = []
    unseen = 0
    for viewer, mids in video_mids.items():
        for mid in mids:
            old = before.get(viewer, {}).get(mid)
            new = after.get(viewer, {}).get(mid)
            if new is None or new == old:
                continue
            if old is not None and label_of[old] == label_of[new]:
                unseen += 1
                continue
            attempts.append(Attempt(viewer, mid, new, label_of[new], routed_at))
    return attempts, unseen


def settle(
    attempts: Sequence[Attempt], decoded: Mapping[tuple[str, str], Sequence[tuple[float, str]]]
) -> tuple[list[float], list[Attempt]]:
    """The delays of the attempts that showed a frame, and the attempts that did not."""
    delays: list[float] = []
    misses: list[Attempt] = []
    for attempt in attempts:
        delay = attempt.delay_ms(decoded.get((attempt.viewer, attempt.mid), ()))
        if delay is None:
            misses.append(attempt)
        else:
            delays.append(delay)
    return delays, misses


def low_fps_share(fps: Sequence[float], published_fps: float) -> float:
    """The share of slots receiving less than FPS_FLOOR of the published rate (1.0 if none)."""
    if not fps:
        return 1.0
    return sum(1 for f in fps if f < FPS_FLOOR * published_fps) / len(fps)


@dataclass(frozen=True)
class Step:
    """One load level of the capacity search."""

    rooms: int
    server_core: float
    bots_core: float
    slot_fps: list[float]
    join_p95_ms: float | None
    join_misses: int
    server_wait: float = 0.0
    """Share of the window the server waited for a CPU (others had it)."""
    bots_wait: float = 0.0

    def median_fps(self) -> float:
        return statistics.median(self.slot_fps) if self.slot_fps else 0.0


def degraded(step: Step, published_fps: float) -> str | None:
    """Why this load level counts as degraded (the search stops), or None."""
    slow = low_fps_share(step.slot_fps, published_fps)
    reasons = []
    if slow > SLOW_SLOTS:
        reasons.append(f"{slow:.0%} of slots under {FPS_FLOOR * published_fps:.0f} fps")
    if step.join_misses:
        reasons.append(f"{step.join_misses} joins showed no frame")
    if step.join_p95_ms is None or step.join_p95_ms >= JOIN_P95_TARGET_MS:
        reasons.append(f"join p95 {step.join_p95_ms} ms")
    return "; ".join(reasons) or None


def not_the_servers(step: Step) -> str | None:
    """Why a degradation at this level may not be the server's doing, or None."""
    if step.bots_core >= BOTS_BUSY:
        return f"the bots at {step.bots_core:.0%} of their core"
    if max(step.server_wait, step.bots_wait) >= STARVED:
        return (
            f"other processes held the CPUs (server waited {step.server_wait:.0%}, bots "
            f"{step.bots_wait:.0%} of the window)"
        )
    return None


@dataclass(frozen=True)
class Capacity:
    rooms: int | None
    """Rooms the server carried on its one core; None if even the first level degraded."""
    reason: str
    """Why the search ended."""
    lower_bound: bool
    """The server may carry more: the search ran out of levels, or the bots or other processes
    may have caused the degradation."""


def capacity(steps: Sequence[Step], published_fps: float) -> Capacity:
    """The last level before the first degraded one (see `Capacity`)."""
    carried: int | None = None
    for step in steps:
        reason = degraded(step, published_fps)
        if reason is None:
            carried = step.rooms
            continue
        excuse = not_the_servers(step)
        if excuse is not None:
            return Capacity(carried, f"at {step.rooms} rooms: {reason}, with {excuse}", True)
        return Capacity(carried, f"at {step.rooms} rooms: {reason}", False)
    return Capacity(carried, "no degradation up to the largest level tried", True)


def per_extra(core_low: float, count_low: int, core_high: float, count_high: int) -> float | None:
    """CPU share per extra unit between two load levels (None if they are not two levels)."""
    if count_high <= count_low:
        return None
    return (core_high - core_low) / (count_high - count_low)


def missed_targets(result: Mapping[str, object]) -> list[str]:
    """The targets missed (`ratio_to_limit` only with simulcast on, as the issue sets it)."""
    missed = []
    ratio = result.get("ratio_to_limit")
    if result.get("simulcast") and (
        not isinstance(ratio, int | float) or ratio > RATIO_TO_LIMIT_TARGET
    ):
        missed.append(f"ratio_to_limit = {ratio} (target <= {RATIO_TO_LIMIT_TARGET:.0f})")
    for field in ("join_misses", "switch_misses"):
        value = result.get(field)
        if not isinstance(value, int) or value:
            missed.append(f"{field} = {value} (target 0)")
    for field, target in (
        ("join_first_frame_p95_ms", JOIN_P95_TARGET_MS),
        ("switch_first_frame_p95_ms", SWITCH_P95_TARGET_MS),
    ):
        value = result.get(field)
        if not isinstance(value, int | float) or value >= target:
            missed.append(f"{field} = {value} (target < {target:.0f})")
    return missed


W = TypeVar("W", bound=Any)
"""A measurement window (bench/sfu.py `Window`): what has a `core_fraction`."""

BOTS_KEEP_UP = 0.9
"""A level where the bots used more of their core than this may be the bots' limit, not the
server's: not one to price the server's packets at."""


def busiest(levels: list[tuple[int, W, Step]], published_fps: float) -> tuple[int, W]:
    """The level where the server was busiest while the bots kept up and nothing degraded:
    where its cost per packet is priced. On this VM a wake-up from idle costs ~90 µs
    (shared/DESIGN.md), so a server idle most of the time pays it per packet; the floor it is
    compared with is a busy loop."""
    fit = [
        (rooms, window)
        for rooms, window, step in levels
        if step.bots_core < BOTS_KEEP_UP and not degraded(step, published_fps)
    ] or [(rooms, window) for rooms, window, _ in levels]
    return max(fit, key=lambda item: float(item[1].core_fraction))
