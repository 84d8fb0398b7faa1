"""Delay-based congestion detection (media/delay.py) on a simulated bottleneck, fed through the
whole transport-cc path (SendHistory, FeedbackRecorder, the wire format and back)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from media.delay import AckedBitrate, TrendlineEstimator
from media.twcc import FeedbackRecorder, PacketResult, SendHistory

SIZE = 1200
PROPAGATION_US = 40_000
FEEDBACK_US = 100_000
PACE_US = 500
RECEIVER_CLOCK_US = 7_777_777_777
"""The receiver's clock is this far ahead of the sender's: nothing may depend on it."""


@dataclass
class Tick:
    """What the sender knew after one feedback."""

    now_us: int
    state: str
    queue_delay_ms: float
    true_queue_ms: float | None
    """The queue the latest reported packet met in the simulation (None: none reported)."""
    acked_bps: float | None


def simulate(
    phases: list[tuple[float, float]],
    capacity_bps: float = 1_000_000,
    jitter_us: int = 0,
    seed: int = 0,
    burst: int = 1,
) -> list[Tick]:
    """Packets of `SIZE` sent at each phase's (seconds, bits per second), `burst` at a time
    (a frame, paced `PACE_US` apart), through a FIFO bottleneck of `capacity_bps`, then
    `PROPAGATION_US` plus up to `jitter_us`; feedback every `FEEDBACK_US`. Sequence numbers
    start near the 16-bit wrap."""
    rng = random.Random(seed)
    history, recorder = SendHistory(), FeedbackRecorder()
    estimator, acked = TrendlineEstimator(), AckedBitrate()
    in_flight: list[tuple[float, int, float]] = []  # (arrival, seq, queue it met)
    ticks: list[Tick] = []
    frame, link_free, seq, next_feedback = 0.0, 0.0, 65_000, FEEDBACK_US
    for seconds, rate in phases:
        end = frame + seconds * 1_000_000
        while frame < end:
            for k in range(burst):
                now = frame + k * PACE_US
                history.sent(seq & 0xFFFF, int(now), SIZE)
                start = max(now, link_free)
                link_free = start + SIZE * 8 / capacity_bps * 1_000_000
                arrival = link_free + PROPAGATION_US + rng.uniform(0, jitter_us)
                in_flight.append((arrival, seq, start - now))
                seq += 1
            frame += burst * SIZE * 8 / rate * 1_000_000
            while next_feedback <= frame:
                arrived = sorted(p for p in in_flight if p[0] <= next_feedback)
                in_flight = [p for p in in_flight if p[0] > next_feedback]
                for arrival_us, number, _ in arrived:
                    recorder.record(number & 0xFFFF, int(arrival_us) + RECEIVER_CLOCK_US)
                results: list[PacketResult] = []
                for fci in recorder.feedback(next_feedback + RECEIVER_CLOCK_US):
                    results += history.on_fci(fci)
                estimator.update(results, next_feedback)
                acked.update(results)
                queue = max(arrived, key=lambda p: p[1])[2] / 1000 if arrived else None
                ticks.append(
                    Tick(next_feedback, estimator.state, estimator.queue_delay_ms, queue, acked.bps)
                )
                next_feedback += FEEDBACK_US
    return ticks


def during(ticks: list[Tick], start_s: float, end_s: float) -> list[Tick]:
    return [t for t in ticks if start_s * 1e6 <= t.now_us < end_s * 1e6]


@pytest.mark.parametrize(
    ("jitter_us", "seed"),
    [(0, 0), (1_000, 1), (4_000, 2), (20_000, 3)],  # the last reorders packets 12 ms apart
)
def test_a_steady_link_below_capacity_stays_normal(jitter_us: int, seed: int) -> None:
    ticks = simulate([(20, 800_000)], jitter_us=jitter_us, seed=seed)
    assert {t.state for t in ticks} == {"normal"}
    assert max(t.queue_delay_ms for t in ticks) <= jitter_us / 1000 + 0.5
    for tick in during(ticks, 2, 20):  # the rate sent is what gets through
        assert tick.acked_bps == pytest.approx(800_000, rel=0.05)  # ± jitter over the window


def test_a_filling_queue_is_overuse_within_a_few_groups_and_its_delay_is_measured() -> None:
    # 2 Mbit/s into 1 Mbit/s: each 9.6 ms send group arrives 9.6 ms later than the one before.
    ticks = simulate([(2, 800_000), (3, 2_000_000)], jitter_us=1_000, seed=4)
    assert {t.state for t in during(ticks, 0, 2)} == {"normal"}
    first = next(t for t in ticks if t.state == "overusing")
    assert 2_000_000 < first.now_us <= 2_300_000  # at most ~30 groups in
    overloaded = during(ticks, 2.3, 5)
    assert {t.state for t in overloaded} == {"overusing"}
    delays = [t.queue_delay_ms for t in overloaded]
    assert delays == sorted(delays) and delays[-1] > 1000
    for tick in overloaded:
        assert tick.true_queue_ms is not None
        assert tick.queue_delay_ms == pytest.approx(tick.true_queue_ms, abs=12)


def test_the_acked_rate_of_an_overloaded_link_is_its_capacity() -> None:
    ticks = simulate([(1, 800_000), (4, 2_000_000)], capacity_bps=1_500_000, seed=5)
    for tick in during(ticks, 2.5, 5):  # a full window of arrivals at the bottleneck's pace
        assert tick.acked_bps is not None
        assert tick.acked_bps == pytest.approx(1_500_000, rel=0.1)
        assert tick.acked_bps < 1_600_000  # not the 2 Mbit/s that was sent


def test_a_draining_queue_is_underuse_and_then_normal_again() -> None:
    ticks = simulate([(1, 800_000), (1, 2_000_000), (5, 500_000)], jitter_us=1_000, seed=6)
    # A second of queue, drained at half the capacity: feedback shows it from about 3.1 s
    # (what was sent at 2 s arrives a second late), empty by about 4.1 s.
    peak = max(ticks, key=lambda t: t.true_queue_ms or 0)
    assert peak.state == "overusing" and peak.queue_delay_ms > 900
    draining = [t for t in ticks if peak.now_us + 200_000 <= t.now_us and t.queue_delay_ms > 20]
    assert len(draining) >= 7 and {t.state for t in draining} == {"underusing"}
    delays = [t.queue_delay_ms for t in draining]
    assert delays == sorted(delays, reverse=True)
    drained = during(ticks, 5, 7)
    assert {t.state for t in drained} == {"normal"}
    assert max(t.queue_delay_ms for t in drained) < 2


def results_at(
    rate_bps: float, capacity_bps: float, count: int, start_us: int
) -> list[PacketResult]:
    """`count` packets sent at `rate_bps` from `start_us` through an empty `capacity_bps` link
    (the queue builds from nothing)."""
    results, link_free = [], 0.0
    for n in range(count):
        send = start_us + n * SIZE * 8 / rate_bps * 1e6
        link_free = max(send, link_free) + SIZE * 8 / capacity_bps * 1e6
        results.append(PacketResult(n, int(send), SIZE, int(link_free) + 123_456))
    return results


def test_a_single_late_group_is_not_overuse() -> None:
    estimator = TrendlineEstimator()
    results = results_at(800_000, 1_000_000, 400, 0)
    spiked = [
        PacketResult(r.seq, r.send_us, r.size, r.arrival_us + 30_000)
        if r.seq == 200 and r.arrival_us is not None
        else r
        for r in results
    ]
    states = []
    for n in range(0, 400, 8):
        estimator.update(spiked[n : n + 8], spiked[n].send_us)
        states.append(estimator.state)
    assert "overusing" not in states
    assert estimator.threshold_ms == 6  # adapted down to a quiet link's noise, and no further


def test_lost_packets_are_skipped_and_a_silence_starts_over() -> None:
    estimator, without_losses = TrendlineEstimator(), TrendlineEstimator()
    overload = results_at(2_000_000, 1_000_000, 200, 0)
    lost = [PacketResult(1000 + n, r.send_us, SIZE, None) for n, r in enumerate(overload)]
    for n in range(0, 200, 10):
        estimator.update(overload[n : n + 10] + lost[n : n + 10], overload[n].send_us)
        without_losses.update(overload[n : n + 10], overload[n].send_us)
        assert estimator.state == without_losses.state
        assert estimator.threshold_ms == without_losses.threshold_ms
        assert estimator.queue_delay_ms == without_losses.queue_delay_ms
    before = estimator.state
    assert estimator.queue_delay_ms > 100
    later = overload[-1].send_us + 3_000_000  # nothing for 3 s: the old trend is stale
    estimator.update(results_at(800_000, 1_000_000, 3, later), later)
    assert (before, estimator.state) == ("overusing", "normal")
    assert estimator.threshold_ms == 12.5


def test_packets_are_grouped_by_send_burst_and_by_arrival_burst() -> None:
    estimator = TrendlineEstimator()

    def deltas(send_ms: float, arrival_ms: float) -> tuple[float, float] | None:
        return estimator._inter_arrival(int(send_ms * 1000), int(arrival_ms * 1000), 0)

    # Sent within 5 ms of a group's first: one group, whenever they arrive.
    assert [deltas(s, a) for s, a in [(0, 50), (2, 53), (5, 56)]] == [None] * 3
    assert deltas(10, 65) is None  # a second group starts: there is no group before the first
    assert deltas(11, 67) is None
    # The third group's first packet completes the second: measured from last to last.
    assert deltas(20, 75) == (67 - 56, 11 - 5)
    # Sent 10 ms later but arriving 1 ms after the last, sooner than sent: one burst through
    # the same queue (Wi-Fi aggregation), not a new group.
    assert deltas(30, 76) is None
    assert deltas(40, 100) == (76 - 67, 30 - 11)
    assert deltas(35, 101) is None  # sent before the group being built: ignored
    assert deltas(50, 110) == (100 - 76, 40 - 30)


def test_acked_bitrate_needs_half_a_window_and_forgets_the_rest() -> None:
    acked = AckedBitrate(window_us=1_000_000)
    assert acked.bps is None
    slow = results_at(500_000, 10_000_000, 100, 0)  # 19.2 ms apart: 1.9 s of arrivals
    acked.update(slow[:20])  # 365 ms: not enough to say
    assert acked.bps is None
    acked.update(slow[20:])
    assert acked.bps == pytest.approx(500_000, rel=0.01)
    start = slow[-1].send_us + 19_200
    fast = [
        PacketResult(r.seq + 100, r.send_us, r.size, r.arrival_us)
        for r in results_at(2_000_000, 10_000_000, 300, start)
    ]
    acked.update([*fast, PacketResult(999, 0, SIZE, None)])
    assert acked.bps == pytest.approx(2_000_000, rel=0.01)  # the slow second has left
