"""Per-subscriber congestion control: feedback in, a layer (or a pause) per video slot out.

Every tick the SFU hands each participant's `DownlinkControl` what happened on its downlink
(bytes sent, NACKs, receiver reports); the estimator (`media.bandwidth`) turns that into a
rate, and `allocate` into the quality each video slot may carry. Audio is budgeted first and
never paused: the video gets what is left.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .bandwidth import BandwidthEstimator, allocate, downlink_state

if TYPE_CHECKING:
    from .fastpath import Downlink
    from .forwarder import OutSlot

UDP_IP_OVERHEAD = 28
HEADROOM = 0.9
"""Video is planned to fill at most this share of the estimate (keyframes burst above it)."""


class DownlinkControl:
    """One subscriber: its estimate, and what each of its video slots may carry."""

    __slots__ = (
        "_history",
        "_nacked",
        "_packets",
        "_reports",
        "downlink",
        "estimator",
        "remb_bps",
        "state",
        "want",
    )

    def __init__(self, downlink: Downlink, estimator: BandwidthEstimator | None = None) -> None:
        self.downlink = downlink
        self.estimator = estimator or BandwidthEstimator()
        self.state = "full"
        self.remb_bps: float | None = None
        """The subscriber's own receive estimate (REMB), where it sends one."""
        self.want: dict[str, int] = {}
        self._history: deque[tuple[float, int]] = deque()
        self._nacked: dict[str, int] = {}
        self._packets: dict[str, int] = {}
        self._reports: dict[str, int] = {}

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
        """Share of this tick's video packets the subscriber NACKed, or its newest receiver
        reports' fraction lost, whichever is worse (None: no feedback this tick)."""
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
        signals = []
        if sent >= 10:
            signals.append(min(1.0, nacked / sent))
        if reported:
            signals.append(sum(reported) / len(reported))
        return max(signals) if signals else None

    def tick(self, now: float, slots: Sequence[OutSlot], video_order: Sequence[OutSlot]) -> bool:
        """Re-decide every video slot's quality; True if the downlink state changed.

        `video_order`: the video slots in priority order (who matters most first).
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
                plans.append([layer.bitrate_bps for layer in source.layers])
        current = [self.want.get(s.mid, 2) for s in video_order]
        allocated = audio_bps + sum(
            plan[min(w, len(plan) - 1)]
            for plan, w in zip(plans, current, strict=True)
            if plan and w >= 0
        )
        estimate = self.estimator.update(
            now, self.loss(slots), self.sent_bps(now), allocated, self.remb_bps
        )
        want = allocate(estimate * HEADROOM - audio_bps, plans)
        for slot, w in zip(video_order, want, strict=True):
            self.want[slot.mid] = w
            slot.set_want(w, now)
        state = downlink_state(want, plans)
        changed = state != self.state
        self.state = state
        return changed
