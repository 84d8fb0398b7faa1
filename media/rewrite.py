"""Per-subscriber RTP sequence number and timestamp continuity across source cuts.

A receive slot carries one SSRC for the whole day while its source changes. Every cut rebases
the incoming numbering so the outgoing sequence continues at last+1 and the timestamp advances
by the wall time elapsed: nothing ever goes backwards (aiortc's SRTP refuses replays and the
browser's jitter buffer would stall), and nothing jumps (the browser would see a huge loss).
"""

from __future__ import annotations

import random

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
JUMP = 3000  # packets: ~50 s of video; further apart is a restart, not loss or reordering


def seq_newer(a: int, b: int) -> bool:
    """True if 16-bit sequence number `a` is after `b` (RFC 3550 wrap-around arithmetic)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


class Rewriter:
    """Maps one source's (seq, ts) into the slot's continuous numbering.

    `cut()` starts a new segment at the given incoming packet; `map()` translates a packet of
    the current segment, or returns None for a packet older than the segment start (a late or
    retransmitted packet of the previous segment that would break continuity).
    """

    __slots__ = (
        "_clock_rate",
        "_has_sent",
        "_high_in",
        "_seq_offset",
        "_start_in",
        "_ts_offset",
        "last_seq",
        "last_time",
        "last_ts",
    )

    def __init__(self, clock_rate: int, rng: random.Random | None = None) -> None:
        r = rng or random.Random()
        self._clock_rate = clock_rate
        # Start in the lower half of the range like aiortc, so the first wrap is far away.
        self.last_seq = (r.randrange(SEQ_MOD // 2) - 1) & 0xFFFF
        self.last_ts = r.randrange(TS_MOD)
        self.last_time = 0.0
        self._has_sent = False
        self._seq_offset = 0
        self._ts_offset = 0
        self._start_in = 0
        self._high_in = 0

    def cut(self, in_seq: int, in_ts: int, now: float) -> None:
        """Rebase so that (in_seq, in_ts) follows the last packet sent on this slot."""
        out_seq = (self.last_seq + 1) & 0xFFFF
        if self._has_sent:
            step = max(1, int((now - self.last_time) * self._clock_rate))
            out_ts = (self.last_ts + step) % TS_MOD
        else:
            out_ts = self.last_ts
        self._seq_offset = (out_seq - in_seq) & 0xFFFF
        self._ts_offset = (out_ts - in_ts) % TS_MOD
        self._start_in = in_seq
        self._high_in = (in_seq - 1) & 0xFFFF

    def map(self, in_seq: int, in_ts: int, now: float) -> tuple[int, int] | None:
        """(out_seq, out_ts) for a packet of the current segment.

        None if it predates the cut, or lies further than `JUMP` ahead of the newest packet:
        that is a discontinuity (a restarted source), not loss, and `is_far()` says so.
        """
        if ((in_seq - self._start_in) & 0xFFFF) >= 0x8000:
            return None
        if JUMP < ((in_seq - self._high_in) & 0xFFFF) < 0x8000:
            return None
        out_seq = (in_seq + self._seq_offset) & 0xFFFF
        out_ts = (in_ts + self._ts_offset) & 0xFFFFFFFF
        if ((in_seq - self._high_in) & 0xFFFF) - 1 < 0x7FFF:
            self._high_in = in_seq
            self.last_seq = out_seq
            self.last_ts = out_ts
            self.last_time = now
            self._has_sent = True
        return out_seq, out_ts

    def is_far(self, in_seq: int) -> bool:
        """Whether `in_seq` is too far from this segment to be loss or reordering (a jump)."""
        distance = (in_seq - self._high_in) & 0xFFFF
        return JUMP < distance < SEQ_MOD - JUMP

    def skip(self, in_seq: int) -> None:
        """An in-order packet was dropped (padding only): close the hole it would leave."""
        if seq_newer(in_seq, self._high_in):
            self._high_in = in_seq
            self._seq_offset = (self._seq_offset - 1) & 0xFFFF
