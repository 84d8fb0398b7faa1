"""Transport-cc feedback parsing (media/twcc.py) on hand-built packets."""

from __future__ import annotations

import struct

import pytest

from media.twcc import parse_twcc


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
