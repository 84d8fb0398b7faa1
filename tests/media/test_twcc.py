"""Transport-cc feedback (media/twcc.py): parsed from hand-built packets, built and parsed back,
recorded by a receiver and matched to what a sender sent."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.twcc import (
    DELTA_UNIT_US,
    HISTORY_SIZE,
    MAX_RUN,
    MAX_STATUSES,
    RECORDER_SPAN,
    REFERENCE_TIME_UNIT_US,
    FeedbackRecorder,
    PacketResult,
    SendHistory,
    build_twcc,
    build_twcc_prefix,
    parse_twcc,
)


def header(base: int, count: int, reference: int, feedback_count: int) -> bytes:
    return struct.pack("!HHI", base, count, ((reference & 0xFFFFFF) << 8) | feedback_count)


def test_a_two_bit_vector_with_a_loss_a_negative_delta_and_a_wrap() -> None:
    symbols = (1 << 12) | (0 << 10) | (2 << 8) | (1 << 6) | (1 << 4)
    fci = header(65534, 5, 2, 7) + struct.pack("!H", 0xC000 | symbols)
    fci += bytes([4]) + struct.pack("!h", -2) + bytes([8, 0]) + b"\x00"  # deltas, padding
    feedback = parse_twcc(fci)
    assert feedback.base_sequence == 65534 and feedback.feedback_count == 7
    assert feedback.arrivals == (
        (65534, 129_000),  # 2 x 64 ms + 1 ms
        (65535, None),
        (0, 128_500),  # a packet that arrived 0.5 ms before the one before it
        (1, 130_500),
        (2, 130_500),
    )


def test_a_run_length_chunk_and_a_one_bit_vector() -> None:
    run = struct.pack("!H", (1 << 13) | 3)  # three received, small deltas
    vector = struct.pack("!H", 0x8000 | (0b10100000000000))  # received, lost, received, ...
    fci = header(10, 5, -1, 0) + run + vector + bytes([1, 1, 1, 2, 2])
    arrivals = parse_twcc(fci).arrivals
    assert [seq for seq, _ in arrivals] == [10, 11, 12, 13, 14]
    assert [t for _, t in arrivals] == [-63_750, -63_500, -63_250, -62_750, None]


@pytest.mark.parametrize(
    "fci",
    [
        b"\x00" * 7,  # no room for the header
        header(0, 3, 0, 0),  # statuses promised, no chunk
        header(0, 1, 0, 0) + struct.pack("!H", (1 << 13) | 1),  # a delta promised, none there
        header(0, 1, 0, 0) + struct.pack("!H", (3 << 13) | 1) + b"\x00",  # reserved symbol
        header(0, 60_000, 0, 0),  # more packets than any feedback carries
    ],
)
def test_malformed_feedback_is_refused(fci: bytes) -> None:
    with pytest.raises(ValueError):
        parse_twcc(fci)


# Building feedback: round trips through the parser.

Arrivals = list[tuple[int, int | None]]
WRAP_US = (1 << 24) * REFERENCE_TIME_UNIT_US
"""The 24-bit reference wraps: times come back modulo this."""
STEPS = {  # µs from one received packet to the next, by kind of stretch
    "small": (0, 256 * DELTA_UNIT_US - 1),
    "large": (256 * DELTA_UNIT_US, 0x7FFF * DELTA_UNIT_US),
    "negative": (-0x8000 * DELTA_UNIT_US, -1),
    "too_far": (0x8000 * DELTA_UNIT_US + DELTA_UNIT_US, 20_000_000),
}


@st.composite
def feedback_runs(draw: st.DrawFn) -> tuple[int, Arrivals]:
    """(base, arrivals): stretches of one kind (losses, small, large or negative deltas, the
    odd gap too large for one feedback), long and short, each with its own seeded steps."""
    base = draw(st.integers(0, 0xFFFF))
    time = draw(st.integers(-(1 << 40), 1 << 40))
    segments = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["lost", *STEPS]),
                st.integers(1, 40) | st.integers(100, 400),
                st.integers(0, 1 << 32),
            ),
            min_size=1,
            max_size=12,
        )
    )
    arrivals: Arrivals = []
    for kind, length, seed in segments:
        rng = random.Random(seed)
        for _ in range(1 if kind == "too_far" else length):
            seq = (base + len(arrivals)) & 0xFFFF
            if kind == "lost":
                arrivals.append((seq, None))
                continue
            if any(t is not None for _, t in arrivals):
                time += rng.randint(*STEPS[kind])
            arrivals.append((seq, time))
    return base, arrivals


def quantized(time: int | None) -> int | None:
    return None if time is None else time // DELTA_UNIT_US * DELTA_UNIT_US


def same_modulo_wrap(parsed: Arrivals, built: Arrivals) -> bool:
    return len(parsed) == len(built) and all(
        seq == want_seq
        and (t is None if want is None else t is not None and (t - want) % WRAP_US == 0)
        for (seq, t), (want_seq, want) in zip(parsed, built, strict=True)
    )


@given(feedback_runs(), st.integers(0, 255))
@settings(max_examples=300, deadline=None)
def test_built_feedback_parses_back_to_its_arrivals_in_as_many_fcis_as_needed(
    run: tuple[int, Arrivals], count: int
) -> None:
    base, arrivals = run
    pos = 0
    while pos < len(arrivals):
        rest = arrivals[pos:]
        reference = next((t for _, t in rest if t is not None), 0)
        fci, consumed = build_twcc_prefix(rest[0][0], count, reference, rest)
        assert len(fci) % 4 == 0 and 1 <= consumed <= len(rest)
        feedback = parse_twcc(fci)
        assert feedback.base_sequence == rest[0][0] == (base + pos) & 0xFFFF
        assert feedback.feedback_count == count
        want = [(seq, quantized(t)) for seq, t in rest[:consumed]]
        assert same_modulo_wrap(list(feedback.arrivals), want)
        if consumed < len(rest):
            # It stopped only where it had to: the next delta is beyond 16 signed bits.
            last = next(t for _, t in reversed(rest[:consumed]) if t is not None)
            following = rest[consumed][1]
            assert following is not None
            assert not -0x8000 <= following // 250 - last // 250 <= 0x7FFF
        pos += consumed


@given(
    st.lists(st.integers(-(1 << 22), (1 << 22)), min_size=1, max_size=60),
    st.integers(-(1 << 23), (1 << 23) - 1),
)
@settings(max_examples=200, deadline=None)
def test_reordered_arrivals_round_trip_exactly_when_the_reference_is_in_range(
    offsets: list[int], reference_units: int
) -> None:
    # Within ±2^23 × 64 ms there is no wrap: the times come back exactly (to 250 µs).
    reference = reference_units * REFERENCE_TIME_UNIT_US
    arrivals: Arrivals = [(i, reference + abs(o) % 8_000_000) for i, o in enumerate(offsets)]
    fci = build_twcc(0, 1, reference, arrivals)
    assert list(parse_twcc(fci).arrivals) == [(s, quantized(t)) for s, t in arrivals]


def test_the_hand_built_two_bit_vector_is_what_the_builder_writes() -> None:
    arrivals: Arrivals = [
        (65534, 129_000),
        (65535, None),
        (0, 128_500),
        (1, 130_500),
        (2, 130_500),
    ]
    expected = header(65534, 5, 2, 7) + struct.pack("!H", 0xC000 | 0x1000 | 0x0200 | 0x50)
    expected += bytes([4]) + struct.pack("!h", -2) + bytes([8, 0]) + b"\x00"
    assert build_twcc(65534, 7, 128_000 + 63_999, arrivals) == expected


def test_long_runs_use_run_length_chunks_split_at_their_13_bit_limit() -> None:
    arrivals: Arrivals = [(i & 0xFFFF, None) for i in range(10_000)]
    arrivals += [(i & 0xFFFF, 5_000_000 + (i - 10_000) * 1000) for i in range(10_000, 10_100)]
    fci = build_twcc(0, 0, 5_000_000, arrivals)
    # 10 000 losses in two run chunks, 100 small deltas in one: 8 + 3 × 2 + 100, padded.
    assert len(fci) == 116
    assert struct.unpack_from("!HHH", fci, 8) == (MAX_RUN, 10_000 - MAX_RUN, (1 << 13) | 100)
    assert list(parse_twcc(fci).arrivals) == [(s, quantized(t)) for s, t in arrivals]


def test_deltas_at_the_16_bit_edges() -> None:
    top, bottom = 0x7FFF * DELTA_UNIT_US, -0x8000 * DELTA_UNIT_US
    arrivals: Arrivals = [(0, 0), (1, top), (2, top + bottom), (3, top + bottom + top + 250)]
    fci, consumed = build_twcc_prefix(0, 0, 0, arrivals)
    assert consumed == 3  # the last is one unit too far
    assert list(parse_twcc(fci).arrivals) == arrivals[:3]


def test_more_statuses_than_a_feedback_takes_are_left_for_the_next() -> None:
    arrivals: Arrivals = [(i & 0xFFFF, i * 100) for i in range(MAX_STATUSES + 5)]
    fci, consumed = build_twcc_prefix(0, 0, 0, arrivals)
    assert consumed == MAX_STATUSES
    assert len(parse_twcc(fci).arrivals) == MAX_STATUSES
    with pytest.raises(ValueError):
        build_twcc(0, 0, 0, arrivals)


@pytest.mark.parametrize(
    "arrivals",
    [
        [],  # nothing to say
        [(0, 0), (2, 1000)],  # a number skipped
        [(1, 0)],  # not starting at the base
        [(0, 10_000_000)],  # the first arrival 10 s from the reference
    ],
)
def test_arrivals_that_make_no_feedback_are_refused(arrivals: Arrivals) -> None:
    with pytest.raises(ValueError):
        build_twcc_prefix(0, 0, 0, arrivals)


# The receiving end.


def reported(fcis: list[bytes]) -> Arrivals:
    return [arrival for fci in fcis for arrival in parse_twcc(fci).arrivals]


def test_a_recorder_reports_the_gaps_as_lost_and_each_number_once() -> None:
    recorder = FeedbackRecorder()
    for seq, arrival in [(10, 1_000_100), (13, 1_000_900), (11, 1_001_000), (11, 1_009_000)]:
        recorder.record(seq, arrival)  # 11 came late, and twice: the first copy counts
    assert reported(recorder.feedback(1_100_000)) == [
        (10, 1_000_000),
        (11, 1_001_000),
        (12, None),
        (13, 1_000_750),
    ]
    assert recorder.feedback(1_200_000) == []  # nothing new
    recorder.record(12, 1_150_000)  # already reported lost: the sender has judged it
    recorder.record(9, 1_150_000)
    assert recorder.feedback(1_200_000) == []
    recorder.record(15, 1_250_000)
    assert reported(recorder.feedback(1_300_000)) == [(14, None), (15, 1_250_000)]


def test_a_recorder_unwraps_and_takes_packets_reordered_before_the_first() -> None:
    recorder = FeedbackRecorder()
    for seq in (65534, 65533, 65535, 0, 2):
        recorder.record(seq, 500_000 + seq % 7 * 1000)
    fcis = recorder.feedback(600_000)
    assert [seq for seq, _ in reported(fcis)] == [65533, 65534, 65535, 0, 1, 2]
    assert parse_twcc(fcis[0]).base_sequence == 65533


def test_a_recorder_splits_and_counts_its_feedback() -> None:
    recorder = FeedbackRecorder(max_age_us=60_000_000)  # the first arrivals are 10 s old
    for seq in range(2_500):
        recorder.record(seq, 1_000_000 + seq * 400)
    recorder.record(2_500, 1_000_000 + 2_500 * 400 + 9_000_000)  # > 8 s after the one before
    fcis = recorder.feedback(11_000_000)
    parsed = [parse_twcc(fci) for fci in fcis]
    assert [(p.base_sequence, len(p.arrivals)) for p in parsed] == [
        (0, 1000),
        (1000, 1000),
        (2000, 500),
        (2500, 1),
    ]
    assert reported(fcis) == [(s, (1_000_000 + s * 400) // 250 * 250) for s in range(2500)] + [
        (2500, 11_000_000)
    ]
    counts = [p.feedback_count for p in parsed]
    for seq in range(2_501, 2_800):
        recorder.record(seq, 11_000_000 + seq)
        counts += [parse_twcc(fci).feedback_count for fci in recorder.feedback(11_000_000)]
    assert counts == [n & 0xFF for n in range(len(counts))]  # one up per FCI, mod 256


def test_a_recorder_left_alone_holds_a_bounded_span_and_skips_what_it_forgot() -> None:
    recorder = FeedbackRecorder()
    recorder.record(0, 0)
    recorder.feedback(0)
    for n in range(1, 100_001):  # wraps the 16-bit numbers
        recorder.record(n & 0xFFFF, n * 10)
    assert len(recorder._arrivals) <= RECORDER_SPAN  # the memory bound itself
    arrivals = reported(recorder.feedback(1_000_010))
    # Only the newest span is reported, every one of them received: forgotten numbers are
    # skipped, not reported lost.
    assert len(arrivals) == RECORDER_SPAN
    assert arrivals[-1] == (100_000 & 0xFFFF, 1_000_000)
    assert all(arrival is not None for _, arrival in arrivals)


def test_arrivals_too_old_for_the_sender_are_skipped_not_reported_lost() -> None:
    recorder = FeedbackRecorder()
    for seq in range(5):
        recorder.record(seq, 1_000_000 + seq * 1000)
    assert recorder.feedback(4_000_000) == []  # all of it long gone
    recorder.record(5, 3_900_000)
    recorder.record(3, 3_910_000)  # reordered behind what was forgotten
    recorder.record(7, 3_950_000)
    assert reported(recorder.feedback(4_000_000)) == [(5, 3_900_000), (6, None), (7, 3_950_000)]


# The sending end.


def test_a_history_turns_feedback_into_results_once() -> None:
    history = SendHistory()
    for seq in range(65534, 65539):
        history.sent(seq & 0xFFFF, 1000 * seq, 1200)
    fci = build_twcc(65534, 0, 0, [(65534, 500), (65535, None), (0, 1000), (1, None)])
    results = history.on_fci(fci)
    assert [(r.seq & 0xFFFF, r.arrival_us) for r in results] == [
        (65534, 500),
        (65535, None),
        (0, 1000),
        (1, None),
    ]
    assert [r.seq - results[0].seq for r in results] == [0, 1, 2, 3]  # unwrapped
    assert results[2] == PacketResult(results[0].seq + 2, 1000 * 65536, 1200, 1000)
    assert history.on_fci(fci) == []  # the same feedback again says nothing new
    later = build_twcc(65535, 1, 0, [(65535, 1500), (0, None), (1, None), (2, 2000)])
    assert [(r.seq & 0xFFFF, r.arrival_us) for r in history.on_fci(later)] == [
        (65535, 1500),  # reordered, not lost after all
        (2, 2000),
    ]
    assert history.recovered == 1


def test_a_history_ignores_feedback_about_packets_it_does_not_hold() -> None:
    history = SendHistory()
    assert history.on_fci(build_twcc(0, 0, 0, [(0, 100)])) == []  # nothing sent yet
    for seq in range(HISTORY_SIZE + 100):
        history.sent(seq & 0xFFFF, seq, 100)
    history.sent(5, 0, 100)  # so old its slot belongs to a newer packet: not taken
    expired = build_twcc(0, 0, 0, [(s, 100) for s in range(200)])
    results = history.on_fci(expired)
    assert [r.seq & 0xFFFF for r in results] == list(range(100, 200))
    assert all(r.send_us == r.seq & 0xFFFF for r in results)
    future = build_twcc(HISTORY_SIZE + 100, 0, 0, [(HISTORY_SIZE + 100, 100)])
    assert history.on_fci(future) == []
    assert history.unknown == 1 + 100 + 1
    assert history.on_fci(b"\x00" * 7) == [] and history.on_fci(header(0, 3, 0, 0)) == []
    assert history.malformed == 2


def test_recorder_to_history_across_a_wrap_with_losses() -> None:
    history, recorder = SendHistory(), FeedbackRecorder()
    results: list[PacketResult] = []
    for n in range(3000):
        seq = (64_000 + n) & 0xFFFF
        history.sent(seq, n * 1000, 1000 + n % 7)
        if n % 10 != 3:
            recorder.record(seq, 50_000_000 + n * 1000 + 20_000)
        if n % 100 == 99:
            for fci in recorder.feedback(50_000_000 + n * 1000):
                results += history.on_fci(fci)
    assert [r.seq - results[0].seq for r in results] == list(range(3000))
    assert all((r.arrival_us is None) == (i % 10 == 3) for i, r in enumerate(results))
    assert all(
        r.arrival_us is None or r.arrival_us == 50_000_000 + r.send_us + 20_000 for r in results
    )
    assert [r.size for r in results] == [1000 + n % 7 for n in range(3000)]
