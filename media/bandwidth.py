"""How much a subscriber's downlink carries, and what to send it within that (pure).

`BandwidthEstimator` follows GCC's loss-based controller (draft-ietf-rmcat-gcc §6) with the
signals every browser already sends an SFU: NACKs (within a round trip of a loss, so a probe
that overshoots is undone within one tick), receiver reports' fraction lost, and round trips
growing (a queue filling before it overflows). A step up that fails goes back to the rate
that last carried without loss; other heavy loss drops the estimate to what actually got
through. Without loss it grows, slowly right after a loss and faster while growth keeps
succeeding, never far beyond what is really being sent (so an idle link does not claim room it
never proved). A REMB, where the subscriber sends one, caps it. Each loss also holds growth
for a backoff (2 s, then 3 s): a link that cannot carry the next layer is probed
rarely, so its audio is hit rarely.

`allocate` turns an estimate into a layer per slot: every slot gets its lowest layer in
priority order while the budget lasts, then slots step up in the same order. A slot that does
not fit even its lowest layer is paused; all paused means audio only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

HIGH_LOSS = 0.08
"""Above this, the link is saturated: the estimate drops to the delivered rate."""
LOW_LOSS = 0.03
HEAVY_LOSS = 0.25
"""This much lost over a second is congestion at any rate."""
"""Below this, the estimate may grow (in between it holds)."""
MIN_BACKOFF_S = 2.0
MAX_BACKOFF_S = 3.0
SETTLE_S = 1.5
STABLE_AFTER_S = 2.0
FIRST_GROWTH = 1.03
MAX_GROWTH = 1.3
MAX_COUNTED_LOSS = 0.85
"""NACKs lag the packets they are about: a tick can count more losses than it sent."""
RAISE_MARGIN = 1.15
"""Room needed beyond a layer's cost before a slot is given more than it has."""
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
        self._stable: float | None = None
        self._sent: deque[tuple[float, float]] = deque()
        self._hold_until = 0.0
        self._settle_until = 0.0
        self._backoff = MIN_BACKOFF_S
        self._growth = FIRST_GROWTH
        self._calm_since: float | None = None

    def update(
        self,
        now: float,
        loss: float | None,
        sent_bps: float,
        allocated_bps: float,
        remb_bps: float | None = None,
        queuing: bool = False,
        probing: bool = False,
        *,
        acked_bps: float | None = None,
        next_step_bps: float | None = None,
    ) -> float:
        """Fold one tick's feedback in; return the new estimate.

        `loss`: fraction of what was sent that the subscriber reported missing this tick
        (None: no feedback); `sent_bps`: what went out over the last second, on the wire;
        `allocated_bps`: what the current allocation sends; `queuing`: round trips grew (a
        queue is building on the path: the next thing is loss); `probing`: the allocation was
        raised a moment ago (a loss now says the raise was too much); `acked_bps`: what the
        subscriber's transport-cc feedback says got through (where it sends feedback);
        `next_step_bps`: what the allocation would cost one step up (a paused slot resumed):
        the estimate may grow that far even when that is more than twice what is sent now.
        """
        if self._calm_since is None:
            self._calm_since = now  # calm is measured from the first feedback, not before
        overuse = (loss is not None and loss >= HIGH_LOSS) or queuing
        sent_history = self._sent
        sent_history.append((now, sent_bps))
        while sent_history and now - sent_history[0][0] > STABLE_AFTER_S:
            sent_history.popleft()
        if now < self._settle_until:
            pass  # feedback still describes the rate before the last drop
        elif overuse:
            # Loaded: sending most of the estimate, so loss is about our rate; at a lower rate
            # it may be the path's own (Wi-Fi, a busy receiver) and says less about capacity.
            loaded = sent_bps >= 0.5 * self.estimate
            if probing and self._stable is not None and self._stable < self.estimate:
                target = self._stable  # a step up failed: back to what carried without loss
            elif loss is not None and (loss >= HEAVY_LOSS or (loss >= HIGH_LOSS and loaded)):
                # The link was full (or a quarter is lost, which only a full link does): what
                # got through is what it carries.
                target = sent_bps * (1.0 - min(loss, MAX_COUNTED_LOSS)) * 0.95
            elif loss is not None and loss >= HIGH_LOSS:
                # Little was sent, so loss says little about capacity (GCC's rule).
                target = self.estimate * (1.0 - 0.5 * min(loss, 1.0))
            elif acked_bps is not None and acked_bps > 0:
                target = acked_bps * 0.85  # GCC: a queue builds, back below what got through
            else:
                target = sent_bps * 0.9
            self.estimate = max(self.min_bps, min(self.estimate, target))
            self.drops += 1
            self._stable = None
            self._settle_until = now + SETTLE_S
            self._hold_until = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
            self._growth = FIRST_GROWTH
            self._calm_since = now
        elif loss is None or loss < LOW_LOSS:
            calm = now - self._calm_since
            carried_least = min(rate for _, rate in sent_history)
            if calm >= STABLE_AFTER_S and carried_least > 0:
                # This much went out for a while without loss: a failed step up comes back
                # here (the least of the last seconds: a raise just made is not proven yet).
                carried = min(self.estimate, carried_least / 0.9)
                self._stable = max(self._stable or 0.0, carried)
            if now >= self._hold_until:
                # Room to grow is bounded by what is sent, or a paused slot could never come
                # back: one whose only stream costs more than twice the audio still playing.
                ceiling = max(allocated_bps * 2 + 100_000, (next_step_bps or 0.0) * 1.3)
                if self.estimate < ceiling:
                    self.estimate = min(ceiling, self.estimate * self._growth)
                    self._growth = min(MAX_GROWTH, 1 + (self._growth - 1) * 2)
            if calm >= 10.0:
                self._backoff = max(MIN_BACKOFF_S, self._backoff / 2)
                self._calm_since = now - STABLE_AFTER_S
        if remb_bps is not None and remb_bps > 0:
            self.estimate = min(self.estimate, remb_bps)
        self.estimate = min(self.max_bps, max(self.min_bps, self.estimate))
        return self.estimate


def allocate(
    budget_bps: float,
    slots: Sequence[Sequence[float]],
    current: Sequence[int] | None = None,
    *,
    may_raise: bool = True,
    max_raises: int | None = None,
) -> list[int]:
    """The layer each slot may carry (-1: paused), slots in priority order.

    `slots[i]` lists the bitrates of what slot i would show, one per layer lowest first (0 for
    a layer not being sent; empty: nothing to show, which costs nothing and stays at 2).
    With `current` (the allocation in force), a slot keeps what it has while it fits, and
    anything more (a paused slot resuming, a layer up) needs `RAISE_MARGIN` of room on top:
    an estimate wobbling around one layer's cost must not switch it on and off every tick.
    `may_raise=False`: nothing beyond `current` (the last raise is still being verified);
    `max_raises`: at most this many steps up (a slot resumed or raised one layer) this time.
    """
    raises_left = max_raises if max_raises is not None else 1 << 30
    now = list(current) if current is not None else [-1] * len(slots)
    margin = RAISE_MARGIN if current is not None else 1.0
    want = [-1] * len(slots)
    remaining = budget_bps
    # Keep (or step down to) what fits, in priority order.
    for i, layers in enumerate(slots):
        if not layers:
            want[i] = 2
            continue
        sent = [j for j, rate in enumerate(layers) if rate > 0]
        if not sent:
            want[i] = len(layers) - 1  # not sending yet: nothing to budget
            continue
        held = min(now[i], len(layers) - 1)
        if held < 0:
            continue
        fitting = [j for j in sent if j <= held and layers[j] <= remaining]
        if fitting:
            want[i] = fitting[-1]
            remaining -= layers[fitting[-1]]
    if not may_raise:
        return want
    # Resume paused slots at their lowest layer, in priority order.
    for i, layers in enumerate(slots):
        if want[i] >= 0 or not layers:
            continue
        lowest = next((j for j, rate in enumerate(layers) if rate > 0), None)
        if lowest is not None and layers[lowest] * margin <= remaining and raises_left > 0:
            want[i] = lowest
            remaining -= layers[lowest]
            raises_left -= 1
    # Raise, one layer at a time, in priority order.
    raised = True
    while raised:
        raised = False
        for i, layers in enumerate(slots):
            level = want[i]
            if level < 0 or not layers or not layers[min(level, len(layers) - 1)]:
                continue
            above = next((j for j in range(level + 1, len(layers)) if layers[j] > 0), None)
            if above is None:
                continue
            cost = layers[above] - layers[level]
            if cost * margin <= remaining and raises_left > 0:
                want[i] = above
                remaining -= cost
                raises_left -= 1
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
