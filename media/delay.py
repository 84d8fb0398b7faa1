"""Delay-based congestion detection from transport-cc results (pure: time is an argument).

Loss says a queue overflowed; delay says one is filling, a few hundred milliseconds earlier,
while there is still time to step down without a freeze. `TrendlineEstimator` is Google
Congestion Control's delay-based overuse detector as libwebrtc runs it (inter_arrival and
trendline_estimator, constants included): packets are grouped into 5 ms send bursts, and a
trend line is fitted to how much later each group arrived than it was sent, relative to the
first; a trend above an adaptive threshold for long enough is overuse. `AckedBitrate` is what
got through, the rate a controller falls back to when the trend says the link is full.

Both read `PacketResult`s (media/twcc.py), whose send and arrival times are on two clocks
with an unknown offset: only differences of each are used, never one clock against the other,
except for a minimum (`queue_delay_ms`) that cancels the offset out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Literal

from media.twcc import PacketResult

Usage = Literal["normal", "overusing", "underusing"]

SEND_GROUP_US = 5_000
"""Packets sent within this of a group's first are one group (a frame, a pacer burst)."""
BURST_DELTA_US = 5_000
MAX_BURST_US = 100_000
"""A packet arriving within `BURST_DELTA_US` of its group's last, and sooner than its send
spacing says, joins that group however late it was sent: it waited in the same queue, and a
group split there would read as a delay drop (underuse) then a rise (overuse)."""
REORDER_RESET = 3
ARRIVAL_JUMP_US = 3_000_000
"""Arrivals this much further apart than the feedback that carried them: the receiver's
clock jumped, and the history is useless."""
STREAM_TIMEOUT_US = 2_000_000
"""No results for this long: the queue then says nothing about the queue now; start over."""

SMOOTHING = 0.9
WINDOW = 20
GAIN = 4.0
MIN_NUM_DELTAS = 60
DELTA_COUNTER_MAX = 1000
K_UP = 0.0087
K_DOWN = 0.039
INITIAL_THRESHOLD_MS = 12.5
MIN_THRESHOLD_MS = 6.0
MAX_THRESHOLD_MS = 600.0
MAX_ADAPT_OFFSET_MS = 15.0
"""A trend this far beyond the threshold is a spike (a capacity drop): the threshold does
not chase it, or the next real overuse would go unseen."""
MAX_THRESHOLD_STEP_MS = 100
OVERUSE_TIME_MS = 10.0

QUEUE_WINDOW_US = 10_000_000
QUEUE_BUCKET_US = 100_000
"""The running minimum is kept per 100 ms of send time: 100 numbers for a 10 s window,
however many packets."""

ACKED_WINDOW_US = 1_000_000


class _Group:
    """One send burst: its first and last send time, first and last arrival."""

    __slots__ = ("complete", "first_arrival", "first_send", "send", "system")

    def __init__(self, send_us: int, arrival_us: int, system_us: int) -> None:
        self.first_send = self.send = send_us
        self.first_arrival = self.complete = arrival_us
        self.system = system_us


class TrendlineEstimator:
    """GCC's delay-based overuse detector over transport-cc results (see the module)."""

    __slots__ = (
        "_accumulated",
        "_current",
        "_delays",
        "_first_arrival",
        "_last_offset",
        "_last_seen",
        "_last_threshold_update",
        "_minima",
        "_num_deltas",
        "_over_count",
        "_over_time",
        "_prev_trend",
        "_previous",
        "_reordered",
        "_smoothed",
        "_state",
        "threshold_ms",
    )

    def __init__(self) -> None:
        self._minima: deque[list[int]] = deque()
        """[bucket, least arrival-minus-send offset in it], oldest first."""
        self._last_offset: int | None = None
        self._last_seen: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._current: _Group | None = None
        self._previous: _Group | None = None
        self._reordered = 0
        self._num_deltas = 0
        self._first_arrival: float | None = None
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._delays: deque[tuple[float, float]] = deque(maxlen=WINDOW)
        self._prev_trend = 0.0
        self._over_time: float | None = None
        self._over_count = 0
        self._last_threshold_update: float | None = None
        self._state: Usage = "normal"
        self.threshold_ms = INITIAL_THRESHOLD_MS

    @property
    def state(self) -> Usage:
        return self._state

    @property
    def queue_delay_ms(self) -> float:
        """How much later than the least delay of the last ~10 s the latest packet arrived:
        the queue it met, give or take jitter (0 before any result)."""
        if self._last_offset is None or not self._minima:
            return 0.0
        return max(0, self._last_offset - min(m for _, m in self._minima)) / 1000

    def update(self, results: Iterable[PacketResult], now_us: int) -> None:
        """Fold in one feedback's results (`SendHistory.on_feedback`'s, as they are: the lost
        are skipped, the rest taken in arrival order). `now_us`: the sender's clock."""
        if self._last_seen is not None and now_us - self._last_seen > STREAM_TIMEOUT_US:
            self._reset()
        self._last_seen = now_us
        received = sorted(
            (r.arrival_us, r.seq, r.send_us) for r in results if r.arrival_us is not None
        )
        for arrival_us, _, send_us in received:
            self._note_offset(send_us, arrival_us)
            deltas = self._inter_arrival(send_us, arrival_us, now_us)
            if deltas is not None:
                self._update_trend(deltas[0], deltas[1], arrival_us / 1000)

    def _note_offset(self, send_us: int, arrival_us: int) -> None:
        offset = arrival_us - send_us
        self._last_offset = offset
        bucket = send_us // QUEUE_BUCKET_US
        minima = self._minima
        if minima and minima[-1][0] >= bucket:
            minima[-1][1] = min(minima[-1][1], offset)  # a late one counts in the newest
        else:
            minima.append([bucket, offset])
        while minima[0][0] <= bucket - QUEUE_WINDOW_US // QUEUE_BUCKET_US:
            minima.popleft()

    def _inter_arrival(
        self, send_us: int, arrival_us: int, now_us: int
    ) -> tuple[float, float] | None:
        """(arrival delta, send delta) in ms between the two groups before this packet, when
        this packet starts a new group; else None."""
        current = self._current
        if current is None:
            self._current = _Group(send_us, arrival_us, now_us)
            return None
        if send_us < current.first_send:
            return None  # sent before the group being built: reordered, and it says nothing
        deltas = None
        if self._starts_group(current, send_us, arrival_us):
            previous = self._previous
            if previous is not None:
                arrival_delta = current.complete - previous.complete
                send_delta = current.send - previous.send
                if arrival_delta - (current.system - previous.system) >= ARRIVAL_JUMP_US:
                    self._reset()
                    self._current = _Group(send_us, arrival_us, now_us)
                    return None
                if arrival_delta < 0:
                    # Groups arriving in reverse: the receiver's clock stepped back, if it
                    # keeps happening.
                    self._reordered += 1
                    if self._reordered >= REORDER_RESET:
                        self._reset()
                else:
                    self._reordered = 0
                    deltas = (arrival_delta / 1000, send_delta / 1000)
            self._previous = current
            self._current = _Group(send_us, arrival_us, now_us)
            return deltas
        current.send = max(current.send, send_us)
        current.complete = arrival_us
        current.system = now_us
        return None

    @staticmethod
    def _starts_group(current: _Group, send_us: int, arrival_us: int) -> bool:
        arrival_delta = arrival_us - current.complete
        send_delta = send_us - current.send
        if send_delta == 0:
            return False
        if (
            arrival_delta - send_delta < 0
            and arrival_delta <= BURST_DELTA_US
            and arrival_us - current.first_arrival < MAX_BURST_US
        ):
            return False
        return send_us - current.first_send > SEND_GROUP_US

    def _update_trend(self, arrival_delta_ms: float, send_delta_ms: float, now_ms: float) -> None:
        self._num_deltas = min(self._num_deltas + 1, DELTA_COUNTER_MAX)
        if self._first_arrival is None:
            self._first_arrival = now_ms
        self._accumulated += arrival_delta_ms - send_delta_ms
        self._smoothed = SMOOTHING * self._smoothed + (1 - SMOOTHING) * self._accumulated
        self._delays.append((now_ms - self._first_arrival, self._smoothed))
        trend = self._prev_trend
        if len(self._delays) == WINDOW:
            # The slope is (send rate - capacity) / capacity: > 0 while a queue fills.
            slope = _slope(self._delays)
            if slope is not None:
                trend = slope
        self._detect(trend, send_delta_ms, now_ms)

    def _detect(self, trend: float, send_delta_ms: float, now_ms: float) -> None:
        if self._num_deltas < 2:
            self._state = "normal"
            return
        modified = min(self._num_deltas, MIN_NUM_DELTAS) * trend * GAIN
        if modified > self.threshold_ms:
            if self._over_time is None:
                self._over_time = send_delta_ms / 2  # over half the time since the last one
            else:
                self._over_time += send_delta_ms
            self._over_count += 1
            # Overuse needs time (10 ms) and a second sample, and a trend still rising: one
            # late group is jitter, and a queue already draining needs no step down.
            if (
                self._over_time > OVERUSE_TIME_MS
                and self._over_count > 1
                and trend >= self._prev_trend
            ):
                self._over_time = 0.0
                self._over_count = 0
                self._state = "overusing"
        elif modified < -self.threshold_ms:
            self._over_time = None
            self._over_count = 0
            self._state = "underusing"
        else:
            self._over_time = None
            self._over_count = 0
            self._state = "normal"
        self._prev_trend = trend
        self._update_threshold(modified, now_ms)

    def _update_threshold(self, modified: float, now_ms: float) -> None:
        last = self._last_threshold_update
        self._last_threshold_update = now_ms
        if last is None or abs(modified) > self.threshold_ms + MAX_ADAPT_OFFSET_MS:
            return
        # Up slowly, down fast: the threshold follows the trend's usual noise (so jitter is
        # not overuse, and a competing TCP flow does not starve us), not its spikes.
        k = K_DOWN if abs(modified) < self.threshold_ms else K_UP
        elapsed = min(now_ms - last, MAX_THRESHOLD_STEP_MS)
        self.threshold_ms += k * (abs(modified) - self.threshold_ms) * elapsed
        self.threshold_ms = min(MAX_THRESHOLD_MS, max(MIN_THRESHOLD_MS, self.threshold_ms))


def _slope(points: Iterable[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x (None if all x are equal)."""
    pairs = list(points)
    x_mean = math.fsum(x for x, _ in pairs) / len(pairs)
    y_mean = math.fsum(y for _, y in pairs) / len(pairs)
    numerator = math.fsum((x - x_mean) * (y - y_mean) for x, y in pairs)
    denominator = math.fsum((x - x_mean) ** 2 for x, _ in pairs)
    return numerator / denominator if denominator else None


class AckedBitrate:
    """Bits per second that arrived over the last `window_us` of arrivals (receiver clock).

    Over the span from the first arrival in the window to the last, the first packet's bytes
    left out (they arrived before the span began): at a bottleneck, that is its rate. It is
    what got through, not a forecast: it does not decay while no feedback comes.
    """

    __slots__ = ("_bytes", "_latest", "_packets", "window_us")

    def __init__(self, window_us: int = ACKED_WINDOW_US) -> None:
        self.window_us = window_us
        self._packets: deque[tuple[int, int]] = deque()
        self._bytes = 0
        self._latest: int | None = None

    def update(self, results: Iterable[PacketResult]) -> None:
        """Add one feedback's results (the lost are skipped)."""
        for arrival_us, size in sorted(
            (r.arrival_us, r.size) for r in results if r.arrival_us is not None
        ):
            self._packets.append((arrival_us, size))
            self._bytes += size
            self._latest = arrival_us if self._latest is None else max(self._latest, arrival_us)
        while self._latest is not None and self._packets[0][0] < self._latest - self.window_us:
            self._bytes -= self._packets.popleft()[1]

    @property
    def bps(self) -> float | None:
        """None until the window spans at least half of `window_us` (too few packets to
        say)."""
        if self._latest is None or len(self._packets) < 2:
            return None
        first_arrival, first_size = self._packets[0]
        span = self._latest - first_arrival
        if span < self.window_us // 2:
            return None
        return (self._bytes - first_size) * 8 * 1_000_000 / span
