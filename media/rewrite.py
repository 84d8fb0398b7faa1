"""Per-subscriber RTP sequence number and timestamp continuity across source cuts.

A receive slot carries one SSRC for the whole day while its source changes. Every cut rebases
the incoming numbering so the outgoing sequence continues at last+1 and the timestamp advances
by the wall time elapsed: nothing ever goes backwards (aiortc's SRTP refuses replays and the
browser's jitter buffer would stall), and nothing jumps (the browser would see a huge loss).
"""

from __future__ import annotations

import random

from .fastpath._datapath import RewriterCore

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
JUMP = 3000  # packets: ~50 s of video; further apart is a restart, not loss or reordering


def seq_newer(a: int, b: int) -> bool:
    """True if 16-bit sequence number `a` is after `b` (RFC 3550 wrap-around arithmetic)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


class Rewriter(RewriterCore):
    """Maps one source's (seq, ts) into the slot's continuous numbering.

    `cut()` starts a new segment at the given incoming packet; `map()` translates a packet of
    the current segment, or returns None for a packet older than the segment start (a late or
    retransmitted packet of the previous segment that would break continuity), or further
    than `JUMP` ahead of the newest packet: that is a discontinuity (a restarted source), not
    loss, and `is_far()` says so. `skip()` closes the hole an in-order packet that was dropped
    (padding only) would leave.

    The arithmetic runs in C (`RewriterCore`, media/fastpath/_datapath.c), on every forwarded
    packet; `last_seq`, `last_ts` and `last_time` are the last packet sent on the slot.
    """

    __slots__ = ()

    def __init__(self, clock_rate: int, rng: random.Random | None = None) -> None:
        r = rng or random.Random()
        # Start in the lower half of the range like aiortc, so the first wrap is far away.
        super().__init__(clock_rate, (r.randrange(SEQ_MOD // 2) - 1) & 0xFFFF, r.randrange(TS_MOD))
