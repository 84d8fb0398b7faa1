"""How much a subscriber's downlink carries, and what to send it within that (pure).

`BandwidthEstimator` follows GCC's loss-based controller (draft-ietf-rmcat-gcc §6) with the
signals every browser already sends an SFU: NACKs (within a round trip of a loss, so a probe
that overshoots is undone within one tick) and receiver reports' fraction lost. On heavy loss
the estimate drops to what actually got through; without loss it grows, slowly right after a
loss and faster while growth keeps succeeding, never far beyond what is really being sent (so
an idle link does not claim room it never proved). A REMB, where the subscriber sends one,
caps it. Each loss also holds growth for a backoff (2 s doubling to 8 s): a link that cannot
carry the next layer is probed rarely, so its audio is hit rarely.

`allocate` turns an estimate into a layer per slot: every slot gets its lowest layer in
priority order while the budget lasts, then slots step up in the same order. A slot that does
not fit even its lowest layer is paused; all paused means audio only.
"""

from __future__ import annotations

from collections.abc import Sequence

HIGH_LOSS = 0.08
"""Above this, the link is saturated: the estimate drops to the delivered rate."""
LOW_LOSS = 0.03
"""Below this, the estimate may grow (in between it holds)."""
MIN_BACKOFF_S = 2.0
MAX_BACKOFF_S = 8.0
SETTLE_S = 0.8
"""After a drop, loss reports still describe the rate before it: they are not acted on."""


class BandwidthEstimator:
    """One subscriber's downlink estimate in bits per second (see the module docstring)."""

    def __init__(
        self,
        initial_bps: float = 4_000_000,
        min_bps: float = 50_000,
        max_bps: float = 20_000_000,
    ) -> None:
        self.estimate = initial_bps
        self.min_bps = min_bps
        self.max_bps = max_bps
        self.drops = 0
        self._hold_until = 0.0
        self._settle_until = 0.0
        self._backoff = MIN_BACKOFF_S
        self._growth = 1.03
        self._calm_since = 0.0

    def update(
        self,
        now: float,
        loss: float | None,
        sent_bps: float,
        allocated_bps: float,
        remb_bps: float | None = None,
    ) -> float:
        """Fold one tick's feedback in; return the new estimate.

        `loss`: fraction of what was sent that the subscriber reported missing this tick
        (None: no feedback); `sent_bps`: what went out over the last second, on the wire;
        `allocated_bps`: what the current allocation sends.
        """
        if now < self._settle_until:
            pass
        elif loss is not None and loss >= HIGH_LOSS:
            delivered = sent_bps * (1.0 - min(loss, 1.0))
            self.estimate = max(self.min_bps, min(self.estimate, delivered) * 0.95)
            self.drops += 1
            self._settle_until = now + SETTLE_S
            self._hold_until = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            self._growth = 1.03
            self._calm_since = now
        elif loss is None or loss < LOW_LOSS:
            if now >= self._hold_until:
                ceiling = allocated_bps * 1.5 + 60_000
                if self.estimate < ceiling:
                    self.estimate = min(ceiling, self.estimate * self._growth)
                    self._growth = min(1.25, 1 + (self._growth - 1) * 1.5)
            if now - self._calm_since >= 10.0:
                self._backoff = max(MIN_BACKOFF_S, self._backoff / 2)
                self._calm_since = now
        if remb_bps is not None and remb_bps > 0:
            self.estimate = min(self.estimate, remb_bps)
        self.estimate = min(self.max_bps, max(self.min_bps, self.estimate))
        return self.estimate


def allocate(budget_bps: float, slots: Sequence[Sequence[float]]) -> list[int]:
    """The layer each slot may carry (-1: paused), slots in priority order.

    `slots[i]` lists the bitrates of what slot i would show, one per layer lowest first (0 for
    a layer not being sent; empty: nothing to show, which costs nothing and stays at 2).
    """
    want = [-1] * len(slots)
    remaining = budget_bps
    for i, layers in enumerate(slots):
        if not layers:
            want[i] = 2
            continue
        lowest = next((j for j, rate in enumerate(layers) if rate > 0), None)
        if lowest is None:
            want[i] = len(layers) - 1  # not sending yet: nothing to budget
            continue
        if layers[lowest] <= remaining:
            want[i] = lowest
            remaining -= layers[lowest]
    raised = True
    while raised:
        raised = False
        for i, layers in enumerate(slots):
            level = want[i]
            if level < 0 or not layers:
                continue
            above = next((j for j in range(level + 1, len(layers)) if layers[j] > 0), None)
            if above is None:
                continue
            cost = layers[above] - layers[level]
            if cost <= remaining:
                want[i] = above
                remaining -= cost
                raised = True
    return want


def downlink_state(want: Sequence[int], slots: Sequence[Sequence[float]]) -> str:
    """ "full", "reduced" or "audio_only" for an allocation (slots with something to show)."""
    shown = [(w, layers) for w, layers in zip(want, slots, strict=True) if any(layers)]
    if not shown:
        return "full"
    if all(w < 0 for w, _ in shown):
        return "audio_only"
    top = [max(j for j, rate in enumerate(layers) if rate > 0) for _, layers in shown]
    if any(w < t for (w, _), t in zip(shown, top, strict=True)):
        return "reduced"
    return "full"
