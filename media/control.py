"""Per-subscriber congestion control: feedback in, a layer (or a pause) per video slot out.

Every tick the SFU hands each participant's `DownlinkControl` what happened on its downlink
(bytes sent, NACKs, receiver reports); the estimator (`media.bandwidth`) turns that into a
rate, and `allocate` into the quality each video slot may carry. Audio is budgeted first and
never paused: the video gets what is left.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Sequence, Set
from typing import TYPE_CHECKING

from .bandwidth import HIGH_LOSS, RAISE_MARGIN, BandwidthEstimator, allocate, downlink_state

if TYPE_CHECKING:
    from .fastpath import Downlink
    from .forwarder import OutSlot

logger = logging.getLogger(__name__)

UDP_IP_OVERHEAD = 42  # Ethernet 14 + IPv4 20 + UDP 8: what a link's queue counts
TICK_S = 0.25
LOSS_TICKS = 4
MIN_LOSS_SAMPLE = 30
"""Packets a loss ratio needs: one NACK among ten packets is no 10% loss."""
RTX_SHARE = 0.15
VERIFY_S = 0.75
CAREFUL_VERIFY_S = 2.5
FAILURE_MEMORY_S = 30.0
QUEUE_DELAY_S = 0.15
QUEUED_TICKS = 3
REMB_FRESH_S = 1.0
PROBE_S = 3.0
"""A loss this soon after a raise is the raise's doing."""
"""Round trips this much above the link's lowest mean a queue is building."""
MIN_RTT_WINDOW_S = 30.0
TRANSPORT_FRESH_S = 1.0
"""Transport-cc feedback older than this no longer describes the link."""
CALM_S = 1.0
"""A downlink at full quality without a sign of trouble is looked at this often, not every
tick: a NACK or a growing delay brings it back to every tick at once."""
HEADROOM = 0.9
"""Video is planned to fill at most this share of the estimate (keyframes burst above it)."""


def planned_bps(plans: Sequence[Sequence[float]], want: Sequence[int]) -> float:
    """What the video of an allocation costs (each slot's chosen layer; paused slots nothing)."""
    return sum(
        plan[min(w, len(plan) - 1)] for plan, w in zip(plans, want, strict=True) if plan and w >= 0
    )


def next_step(plans: Sequence[Sequence[float]], want: Sequence[int]) -> float:
    """What the video would cost after the cheapest step up (a paused slot resumed at its
    lowest layer, or one slot one layer up); the current cost if nothing can go up."""
    current = planned_bps(plans, want)
    steps = []
    for plan, w in zip(plans, want, strict=True):
        if not plan:
            continue
        if w < 0:
            steps.append(plan[0])
        elif w < len(plan) - 1:
            steps.append(max(0.0, plan[w + 1] - plan[w]))
    return current + min(steps) * RAISE_MARGIN if steps else current


class DownlinkControl:
    """One subscriber: its estimate, and what each of its video slots may carry."""

    __slots__ = (
        "_calm_nacks",
        "_calm_until",
        "_careful_raise",
        "_drops_seen",
        "_failed_at",
        "_failed_bps",
        "_history",
        "_min_rtt",
        "_min_rtt_at",
        "_nacked",
        "_packets",
        "_queued_ticks",
        "_raised_at",
        "_recent_nacks",
        "_reports",
        "_rtt_seen",
        "_transport_at",
        "downlink",
        "estimator",
        "remb_at",
        "remb_bps",
        "state",
        "transport_malformed",
        "want",
    )

    def __init__(self, downlink: Downlink, estimator: BandwidthEstimator | None = None) -> None:
        self.downlink = downlink
        self.estimator = estimator or BandwidthEstimator()
        self.state = "full"
        self.remb_bps: float | None = None
        """The subscriber's own receive estimate (REMB), where it sends one."""
        self.remb_at = -1e9
        self.want: dict[str, int] = {}
        self._history: deque[tuple[float, int]] = deque()
        self._nacked: dict[str, int] = {}
        self._packets: dict[str, int] = {}
        self._reports: dict[str, int] = {}
        self._recent_nacks: deque[tuple[int, int]] = deque()
        self._raised_at = -1e9
        self._careful_raise = False
        self._drops_seen = 0
        self._failed_at = -1e9
        self._failed_bps = 0.0
        self._queued_ticks = 0
        self._min_rtt = float("inf")
        self._min_rtt_at = 0.0
        self._rtt_seen: dict[str, float] = {}
        self._transport_at = -1e9
        self.transport_malformed = 0
        self._calm_until = -1e9
        self._calm_nacks = 0

    def calm(self, now: float, slots: Sequence[OutSlot]) -> bool:
        """Whether this tick may be skipped: everything at full quality since the last one,
        no new NACK, no growing delay."""
        if now >= self._calm_until or self.downlink.trend_state == "overusing":
            return False
        return sum(slot.output.nacked for slot in slots) == self._calm_nacks

    def on_transport_feedback(self, fci: bytes) -> None:
        """One transport-cc feedback that came the Python way (a relayed connection); the
        rest is read in C. The downlink's trendline takes it; its counts join the next tick."""
        with contextlib.suppress(ValueError):  # malformed: counted by the downlink
            self.downlink.transport_feedback(fci)

    def transport(self, now: float) -> tuple[bool, float | None] | None:
        """From transport-cc feedback: (the queue grows, what got through in bits/s); None
        without fresh feedback. Its loss share is not used: Chromium reports packets of a
        connection's first second as not received that it never NACKs (they were never missed
        as media), and read as loss they stopped new subscribers' video; NACKs and receiver
        reports count loss."""
        downlink = self.downlink
        received, lost, malformed = downlink.take_transport_counts()
        self.transport_malformed += malformed
        if received or lost:
            self._transport_at = now
        if now - self._transport_at > TRANSPORT_FRESH_S:
            return None
        return downlink.trend_state == "overusing", downlink.acked_bps

    def sent_bps(self, now: float) -> float:
        """What went out on the wire over about the last second."""
        downlink = self.downlink
        wire = downlink.octets_sent + UDP_IP_OVERHEAD * downlink.sent
        history = self._history
        history.append((now, wire))
        while len(history) > 2 and now - history[1][0] >= 1.0:
            history.popleft()
        then, before = history[0]
        return (wire - before) * 8 / (now - then) if now > then else 0.0

    def loss(self, slots: Sequence[OutSlot]) -> float | None:
        """Share of the last second's video packets the subscriber NACKed, or its newest
        receiver reports' fraction lost, whichever is worse (None: no feedback).

        A second, not a tick: NACKs come in bursts and lag their packets, and one tick's
        ratio swings from nothing to everything.
        """
        sent = nacked = 0
        reported: list[float] = []
        for slot in slots:
            output = slot.output
            mid = slot.mid
            if slot.is_video:
                sent += output.packets - self._packets.get(mid, output.packets)
                nacked += output.nacked - self._nacked.get(mid, output.nacked)
                self._packets[mid] = output.packets
                self._nacked[mid] = output.nacked
            if output.reports != self._reports.get(mid, 0):
                self._reports[mid] = output.reports
                if slot.current is not None:
                    reported.append(output.fraction_lost)
        recent = self._recent_nacks
        recent.append((sent, nacked))
        if len(recent) > LOSS_TICKS:
            recent.popleft()
        window_sent = sum(s for s, _ in recent)
        window_nacked = sum(n for _, n in recent)
        signals = []
        if window_sent >= MIN_LOSS_SAMPLE:
            signals.append(min(1.0, window_nacked / window_sent))
        if reported:
            signals.append(sum(reported) / len(reported))
        return max(signals) if signals else None

    def queuing(self, slots: Sequence[OutSlot], now: float) -> bool:
        """Whether this tick's new round-trip samples stand well above the link's lowest."""
        fresh = []
        for slot in slots:
            sample = slot.output.rtt_last
            if sample is not None and self._rtt_seen.get(slot.mid) != sample:
                self._rtt_seen[slot.mid] = sample
                fresh.append(sample)
        if not fresh:
            return self._queued_ticks >= QUEUED_TICKS
        if now - self._min_rtt_at > MIN_RTT_WINDOW_S:
            self._min_rtt = min(fresh)  # the path may have changed: learn its floor again
            self._min_rtt_at = now
        lowest = min(fresh)
        if lowest <= self._min_rtt:
            self._min_rtt = lowest
            self._min_rtt_at = now
        # Several ticks in a row: a late report (the subscriber's busy moment) is no queue.
        if min(fresh) - self._min_rtt > QUEUE_DELAY_S:
            self._queued_ticks += 1
        else:
            self._queued_ticks = 0
        return self._queued_ticks >= QUEUED_TICKS

    def tick(
        self,
        now: float,
        slots: Sequence[OutSlot],
        video_order: Sequence[OutSlot],
        tiles: Set[str] = frozenset(),
    ) -> bool:
        """Re-decide every video slot's quality; True if the downlink state changed.

        `video_order`: the video slots in priority order (who matters most first); `tiles`:
        mids of slots shown small (a meeting's others), which get the lowest layer at most.
        """
        audio_bps = 0.0
        for slot in slots:
            if not slot.is_video and slot.current is not None and not slot.current.muted:
                audio_bps += slot.current.layers[0].bitrate_bps
        plans: list[list[float]] = []
        for slot in video_order:
            source = slot.current or slot.pending
            if source is None or source.muted:
                plans.append([])
            else:
                rates = [layer.bitrate_bps for layer in source.layers]
                plans.append(rates[:1] if slot.mid in tiles else rates)
        current = [self.want.get(s.mid, 2) for s in video_order]
        allocated = audio_bps + planned_bps(plans, current)
        loss = self.loss(slots)
        sent = self.sent_bps(now)
        # Round trips also grow when the subscriber's own machine is busy: only a queue we may
        # be filling (sending at least half the estimate) counts.
        queuing = self.queuing(slots, now) and sent >= 0.5 * self.estimator.estimate
        # The subscriber's own delay-based estimate (REMB) below what we send: its queue grows.
        remb = self.remb_bps if now - self.remb_at < REMB_FRESH_S else None
        if remb is not None and remb < 0.85 * sent and sent >= 0.5 * self.estimator.estimate:
            queuing = True
        # Transport-cc: the delay each packet met, so a queue shows before anything is lost.
        acked = None
        transport = self.transport(now)
        if transport is not None:
            overusing, acked = transport
            if overusing and sent >= 0.5 * self.estimator.estimate:
                queuing = True
        probing = now - self._raised_at < PROBE_S
        estimate = self.estimator.update(
            now,
            loss,
            sent,
            allocated,
            None,
            queuing,
            probing,
            acked_bps=acked,
            next_step_bps=(audio_bps + next_step(plans, current)) / HEADROOM,
        )
        # One step up at a time: the feedback on a raise (NACKs, reports) takes most of a
        # second to come back, and raising again before it would overshoot by several layers.
        # Near where the link last failed, one step at a time and verified for longer: a
        # deep queue (home routers buffer seconds) hides an overshoot for a while.
        if self.estimator.drops != self._drops_seen:
            # Remember the most that failed lately (a late signal may come while less is sent).
            self._drops_seen = self.estimator.drops
            recent = now - self._failed_at < FAILURE_MEMORY_S
            self._failed_bps = max(self._failed_bps if recent else 0.0, allocated)
            self._failed_at = now
        near_failure = now - self._failed_at < FAILURE_MEMORY_S
        # With transport-cc the delay of every packet shows an overshoot within a few hundred
        # milliseconds, deep queue or not: the long check is for links that send no feedback.
        careful = self._careful_raise and transport is None
        verify = CAREFUL_VERIFY_S if careful else VERIFY_S
        may_raise = now - self._raised_at >= verify
        if may_raise and self._careful_raise:
            self._careful_raise = False
            if allocated > self._failed_bps:
                self._failed_at = -1e9  # more than what failed now holds: the link grew
                near_failure = False
        want = allocate(
            estimate * HEADROOM - audio_bps,
            plans,
            current,
            may_raise=may_raise,
            # Near a past failure, one step at a time, or two where transport-cc feedback
            # shows an overshoot's delay within a tick or two.
            max_raises=(1 if transport is None else 2) if near_failure else None,
        )
        if any(w > c for w, c in zip(want, current, strict=True)):
            self._raised_at = now
            if near_failure:
                new_total = audio_bps + planned_bps(plans, want)
                self._careful_raise = new_total > 0.9 * self._failed_bps
        # Retransmissions may use a share of the estimate, never more (a burst of NACKs from
        # a congested link answered in full would only make it worse).
        downlink = self.downlink
        share = RTX_SHARE if loss is None or loss < HIGH_LOSS else RTX_SHARE / 3
        # Of what the plan sends, not of the estimate: an estimate running ahead of a link
        # that only proved less must not buy retransmissions the link cannot carry.
        allowance = share * min(estimate, allocated * 1.25) / 8 * TICK_S
        if downlink.rtx_budget == float("inf"):
            downlink.rtx_budget = 0.0
        downlink.rtx_budget = min(allowance * 4, downlink.rtx_budget + allowance)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "downlink %s: loss %s (transport-cc %s) queuing %s sent %.0f allocated %.0f "
                "audio %.0f estimate %.0f want %s",
                slots[0].owner_id if slots else "?",
                None if loss is None else round(loss, 3),
                transport,
                queuing,
                sent,
                allocated,
                audio_bps,
                estimate,
                want,
            )
        for slot, w in zip(video_order, want, strict=True):
            self.want[slot.mid] = w
            slot.set_want(w, now)
        state = downlink_state(want, plans)
        changed = state != self.state
        self.state = state
        calm = (
            state == "full"
            and not queuing
            and (loss is None or loss < HIGH_LOSS / 2)
            and not probing
            and all(w >= len(plan) - 1 for plan, w in zip(plans, want, strict=True))
        )
        self._calm_until = now + CALM_S if calm else -1e9
        self._calm_nacks = sum(slot.output.nacked for slot in slots)
        return changed
