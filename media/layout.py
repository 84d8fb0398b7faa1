"""Which source feeds which receive slot: a pure decision, kept stable across changes."""

from __future__ import annotations

from collections.abc import Sequence


def assign_slots(current: Sequence[str | None], desired: Sequence[str]) -> list[str | None]:
    """Fill `len(current)` slots with sources from `desired` (in priority order).

    A source that is already shown keeps its slot, so a join or leave never shuffles the
    others on the subscriber's screen; free slots take the remaining sources in order; sources
    beyond the slot count are not shown.
    """
    wanted = list(dict.fromkeys(desired))
    keep = set(wanted)
    result: list[str | None] = [s if s in keep else None for s in current]
    shown = {s for s in result if s is not None}
    queue = [s for s in wanted if s not in shown]
    for i, slot in enumerate(result):
        if slot is None and queue:
            result[i] = queue.pop(0)
    # Sources that outrank a shown one but did not fit stay hidden: moving them in would
    # evict someone mid-sentence; the caller can re-order `desired` to force it.
    return result
