"""The delay-based overuse detector and acked bitrate in C (media/fastpath/dp_trend.c,
`TrendCore`) against media/delay.py's `TrendlineEstimator` and `AckedBitrate` as the oracle:
both fed the same feedback, compared after every one."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.delay import AckedBitrate, TrendlineEstimator
from media.fastpath._datapath import TrendCore
from media.twcc import PacketResult

Result = tuple[int, int, int, int | None]
"""(seq, send_us, size, arrival_us or None): what `LinkCore.transport_feedback` returns."""
Feedback = tuple[list[Result], int]
"""One feedback's results and the sender's clock when it came."""

TOLERANCE = 1e-6
SIZE = 1200
PROPAGATION_US = 40_000
FEEDBACK_US = 100_000
PACE_US = 500
RECEIVER_CLOCK_US = 7_777_777_777
TICK_US = 250
"""Transport-cc's arrival resolution: arrivals on it tie often, and ties must sort alike."""


def close(c_value: float, python_value: float) -> bool:
    return math.isclose(c_value, python_value, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


@dataclass
class Pair:
    """The C port and the Python original side by side."""

    estimator: TrendlineEstimator = field(default_factory=TrendlineEstimator)
    acked: AckedBitrate = field(default_factory=AckedBitrate)
    core: TrendCore = field(default_factory=TrendCore)
    states: set[str] = field(default_factory=set)
    acked_seen: int = 0

    def update(self, results: list[Result], now_us: int) -> None:
        packets = [PacketResult(*r) for r in results]
        self.estimator.update(packets, now_us)
        self.acked.update(packets)
        self.core.update(results, now_us)
        assert self.core.state == self.estimator.state
        assert close(self.core.threshold_ms, self.estimator.threshold_ms)
        assert close(self.core.queue_delay_ms, self.estimator.queue_delay_ms)
        expected = self.acked.bps
        if expected is None:
            assert self.core.acked_bps is None
        else:
            assert self.core.acked_bps is not None
            assert close(self.core.acked_bps, expected)
            self.acked_seen += 1
        self.states.add(self.estimator.state)


def run(feedbacks: list[Feedback]) -> Pair:
    pair = Pair()
    for results, now_us in feedbacks:
        pair.update(results, now_us)
    return pair


def link(
    phases: list[tuple[float, float]],
    capacity_bps: float = 1_000_000,
    jitter_us: int = 0,
    seed: int = 0,
    burst: int = 1,
    loss: float = 0.0,
    sizes: tuple[int, int] = (SIZE, SIZE),
    clock_steps: tuple[tuple[int, int], ...] = (),
) -> list[Feedback]:
    """Feedback from a simulated link, as in tests/media/test_delay.py: packets sent at each
    phase's (seconds, bits per second), `burst` at a time paced `PACE_US` apart, through a FIFO
    bottleneck of `capacity_bps`, then `PROPAGATION_US` plus up to `jitter_us`; feedback every
    `FEEDBACK_US`, results in random order, a `loss` share reported lost. A phase at 0 bit/s
    is silence: nothing sent and no feedback. `clock_steps`: (true arrival µs, step µs) from
    which the receiver's clock reads that much further on."""
    rng = random.Random(seed)
    in_flight: list[tuple[float, Result]] = []  # (true arrival, result)
    feedbacks: list[Feedback] = []
    frame, link_free, seq, next_feedback = 0.0, 0.0, 65_000, FEEDBACK_US
    for seconds, rate in phases:
        end = frame + seconds * 1_000_000
        if rate == 0:
            frame = end
            next_feedback = int(end) + FEEDBACK_US
            continue
        while frame < end:
            sent_bits = 0
            for k in range(burst):
                now = frame + k * PACE_US
                size = rng.randint(*sizes)
                sent_bits += size * 8
                start = max(now, link_free)
                link_free = start + size * 8 / capacity_bps * 1_000_000
                arrival = link_free + PROPAGATION_US + rng.uniform(0, jitter_us)
                reported = arrival + RECEIVER_CLOCK_US
                reported += sum(step for at, step in clock_steps if arrival >= at)
                arrival_us = None if rng.random() < loss else int(reported) // TICK_US * TICK_US
                in_flight.append((arrival, (seq, int(now), size, arrival_us)))
                seq += 1
            frame += sent_bits / rate * 1_000_000
            while next_feedback <= frame:
                results = [r for at, r in in_flight if at <= next_feedback]
                in_flight = [(at, r) for at, r in in_flight if at > next_feedback]
                rng.shuffle(results)
                feedbacks.append((results, next_feedback))
                next_feedback += FEEDBACK_US
    return feedbacks


LINKS = {
    "steady": (link([(10, 800_000)]), {"normal"}),
    "steady with jitter": (link([(10, 800_000)], jitter_us=4_000, seed=1), {"normal"}),
    "a bottleneck filling a queue": (
        link([(2, 800_000), (3, 2_000_000)], jitter_us=1_000, seed=4),
        {"normal", "overusing"},
    ),
    "a draining queue": (
        link([(1, 800_000), (1, 2_000_000), (5, 500_000)], jitter_us=1_000, seed=6),
        {"normal", "overusing", "underusing"},
    ),
    "heavy jitter that reorders": (
        link([(5, 800_000), (3, 1_500_000)], jitter_us=20_000, seed=3),
        {"normal"},
    ),
    "loss": (
        link([(3, 800_000), (3, 2_000_000)], jitter_us=2_000, seed=7, loss=0.1),
        {"normal", "overusing"},
    ),
    "frames in bursts of varied sizes": (
        link([(3, 800_000), (3, 1_800_000)], seed=8, burst=8, sizes=(200, 1400)),
        {"normal", "overusing"},
    ),
    "the receiver's clock jumps ahead": (
        link([(8, 2_000_000)], seed=9, clock_steps=((3_000_000, 5_000_000),)),
        {"normal", "overusing"},
    ),
    "the receiver's clock steps back": (
        link([(8, 800_000)], jitter_us=1_000, seed=10, clock_steps=((3_000_000, -500_000),)),
        {"normal"},
    ),
    "silence past the stream timeout": (
        link([(3, 2_000_000), (3, 0), (3, 800_000), (2.5, 0), (2, 2_000_000)], seed=11),
        {"normal", "overusing"},
    ),
    "a fast link with small packets": (
        link([(4, 8_000_000)], capacity_bps=10_000_000, seed=12, sizes=(100, 300)),
        {"normal"},
    ),
}


@pytest.mark.parametrize("name", list(LINKS))
def test_the_c_port_agrees_with_python_on_a_simulated_link(name: str) -> None:
    feedbacks, states = LINKS[name]
    pair = run(feedbacks)
    assert states <= pair.states  # the link exercised what it is here for
    assert pair.acked_seen > 0


def test_a_stream_timeout_starts_over_in_both() -> None:
    pair = run(link([(3, 2_000_000)], seed=13))
    assert pair.core.state == "overusing" and pair.core.queue_delay_ms > 100
    later = 3_000_000 + 2_000_001
    pair.update([(70_000, later, SIZE, later + RECEIVER_CLOCK_US)], later)
    assert (pair.core.state, pair.core.threshold_ms) == ("normal", 12.5)


def test_groups_arriving_in_reverse_three_times_start_over_in_both() -> None:
    pair = run(link([(3, 2_000_000)], seed=14))
    assert pair.core.state == "overusing" and pair.core.threshold_ms != 12.5
    # One packet per feedback, 12 ms apart; the receiver's clock steps back on every other
    # one, so each group ends earlier than the one before it ended.
    seq, send, arrival = 80_000, 3_100_000, RECEIVER_CLOCK_US + 3_140_000
    thresholds = []
    for n in range(10):
        arrival += 12_000 if n % 2 == 0 else -500_000
        pair.update([(seq + n, send + 12_000 * n, SIZE, arrival)], send + 12_000 * n)
        thresholds.append(pair.core.threshold_ms)
    # The third group in a row to arrive in reverse: all over again.
    assert thresholds[0] != 12.5 and thresholds[-1] == 12.5


def test_lost_results_only_are_no_packets() -> None:
    pair = Pair()
    pair.update([(1, 0, SIZE, None), (2, 10, SIZE, None)], 0)
    assert pair.core.queue_delay_ms == 0 and pair.core.acked_bps is None


def test_past_8192_packets_in_the_acked_window_the_oldest_leave_early() -> None:
    """Python's acked window is unbounded; C's ring holds 8192 (documented in dp_trend.c)."""
    core, acked = TrendCore(), AckedBitrate()
    results: list[Result] = [(n, n * 100, 100, n * 100) for n in range(10_000)]
    core.update(results, 0)
    acked.update([PacketResult(*r) for r in results])
    assert acked.bps == pytest.approx(9_999 * 100 * 8 * 1e6 / 999_900)
    span = (10_000 - 1) * 100 - (10_000 - 8_192) * 100
    assert core.acked_bps == pytest.approx(8_191 * 100 * 8 * 1e6 / span)


def test_results_are_checked() -> None:
    core = TrendCore()
    with pytest.raises(ValueError):
        core.update([(1, 0, SIZE, -5)], 0)  # < 0 is "lost" in C: a negative time is refused
    with pytest.raises(TypeError):
        core.update([[1, 0, SIZE, 5]], 0)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        core.update([(1, 0, SIZE)], 0)  # type: ignore[list-item]


# A sender's packets with a one-way delay that drifts (a queue filling and draining), reported
# in feedback at times that are mostly 100 ms apart and sometimes past the stream timeout.
steps = st.tuples(
    st.integers(0, 12_000),  # send spacing, µs
    st.integers(-3_000, 6_000),  # change in one-way delay, µs
    st.integers(60, 1500),  # size
    st.integers(0, 9),  # 0: reported lost
    st.sampled_from([0] * 30 + [-400_000, 3_500_000]),  # the receiver's clock steps
)
feedback_runs = st.lists(
    st.tuples(
        st.lists(steps, max_size=40),
        st.one_of(st.integers(0, 200_000), st.integers(0, 3_000_000)),  # then feedback
    ),
    max_size=40,
)


@given(feedback_runs, st.booleans(), st.randoms(use_true_random=False))
@settings(max_examples=300, deadline=None)
def test_the_c_port_agrees_with_python_on_random_links(
    runs: list[tuple[list[tuple[int, int, int, int, int]], int]],
    on_ticks: bool,
    rng: random.Random,
) -> None:
    pair = Pair()
    send, delay, clock, seq, now = 0, 50_000, RECEIVER_CLOCK_US, 0, 0
    for packets, wait in runs:
        results: list[Result] = []
        for spacing, change, size, lost, clock_step in packets:
            send += spacing
            delay = max(0, delay + change)
            clock += clock_step
            arrival = send + delay + clock
            if on_ticks:
                arrival = arrival // TICK_US * TICK_US
            results.append((seq, send, size, None if lost == 0 else arrival))
            seq += 1
        rng.shuffle(results)
        now = max(now, send) + wait
        pair.update(results, now)


# Anything at all, on small ranges where ties and collisions are common: sequence numbers and
# arrivals repeated, send times before zero and out of order, the sender's clock going back.
raw_results = st.lists(
    st.tuples(
        st.integers(0, 60),
        st.integers(-300_000, 300_000),
        st.integers(0, 1500),
        st.none() | st.integers(0, 600_000),
    ),
    max_size=30,
)


@given(st.lists(st.tuples(raw_results, st.integers(-200_000, 2_500_000)), max_size=30))
@settings(max_examples=300, deadline=None)
def test_the_c_port_agrees_with_python_on_arbitrary_feedback(
    feedbacks: list[tuple[list[Result], int]],
) -> None:
    pair, now = Pair(), 0
    for results, step in feedbacks:
        now += step
        pair.update(results, now)
