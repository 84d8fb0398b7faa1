"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01),
parsed (pure).

A receiver that negotiated transport-cc reports, for a run of transport-wide sequence numbers,
which packets arrived and when (to 250 µs). This is the feedback that lets a sender judge a
probe by the delay it causes before it causes loss. The parser is the first piece of a TWCC
estimator per downlink (docs/architecture.md, "Real networks": not wired yet): it turns one
RTPFB FMT=15 FCI into (sequence number, arrival time or None) pairs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTCP_RTPFB_TWCC = 15
REFERENCE_TIME_UNIT_US = 64_000
DELTA_UNIT_US = 250
MAX_STATUSES = 1 << 14
"""More statuses than one feedback can sensibly carry: a hostile or corrupt packet."""


@dataclass(frozen=True)
class TwccFeedback:
    base_sequence: int
    feedback_count: int
    arrivals: tuple[tuple[int, int | None], ...]
    """(transport sequence number, arrival time in µs on the receiver's clock, or None if the
    packet did not arrive), in sequence order."""


def parse_twcc(fci: bytes) -> TwccFeedback:
    """One transport-cc feedback's FCI (after the two SSRCs). Raises ValueError if malformed."""
    if len(fci) < 8:
        raise ValueError("transport-cc feedback shorter than its header")
    base, count, ref_and_fb = struct.unpack_from("!HHI", fci)
    if count > MAX_STATUSES:
        raise ValueError("transport-cc feedback claims too many packets")
    reference = ref_and_fb >> 8
    if reference & 0x800000:  # 24-bit signed
        reference -= 1 << 24
    feedback_count = ref_and_fb & 0xFF
    statuses: list[int] = []
    pos = 8
    while len(statuses) < count:
        if pos + 2 > len(fci):
            raise ValueError("transport-cc feedback ends inside its status chunks")
        (chunk,) = struct.unpack_from("!H", fci, pos)
        pos += 2
        if not chunk & 0x8000:  # run length: one symbol repeated
            symbol, run = (chunk >> 13) & 0x3, chunk & 0x1FFF
            statuses.extend([symbol] * min(run, count - len(statuses)))
        elif not chunk & 0x4000:  # status vector, 14 one-bit symbols
            for i in range(14):
                if len(statuses) < count:
                    statuses.append((chunk >> (13 - i)) & 0x1)
        else:  # status vector, 7 two-bit symbols
            for i in range(7):
                if len(statuses) < count:
                    statuses.append((chunk >> (12 - 2 * i)) & 0x3)
    time_us = reference * REFERENCE_TIME_UNIT_US
    arrivals: list[tuple[int, int | None]] = []
    for i, symbol in enumerate(statuses):
        seq = (base + i) & 0xFFFF
        if symbol == 0:
            arrivals.append((seq, None))
            continue
        if symbol == 1:
            if pos + 1 > len(fci):
                raise ValueError("transport-cc feedback ends inside its deltas")
            delta = fci[pos]
            pos += 1
        elif symbol == 2:
            if pos + 2 > len(fci):
                raise ValueError("transport-cc feedback ends inside its deltas")
            (delta,) = struct.unpack_from("!h", fci, pos)
            pos += 2
        else:
            raise ValueError("transport-cc feedback uses the reserved status symbol")
        time_us += delta * DELTA_UNIT_US
        arrivals.append((seq, time_us))
    return TwccFeedback(base, feedback_count, tuple(arrivals))
