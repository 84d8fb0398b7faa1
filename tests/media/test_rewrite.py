from __future__ import annotations

import itertools
import random

from media.rewrite import Rewriter, seq_newer


def test_seq_newer_wraps() -> None:
    assert seq_newer(1, 0)
    assert seq_newer(0, 0xFFFF)
    assert not seq_newer(0xFFFF, 0)
    assert not seq_newer(5, 5)


def test_continuous_across_cuts_and_wrap() -> None:
    rw = Rewriter(90000, random.Random(1))
    rw.cut(100, 1000, now=10.0)
    outs = [rw.map(s, 1000 + 3000 * (s - 100), now=10.0) for s in range(100, 110)]
    seqs = [o[0] for o in outs if o]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    last_seq, last_ts = rw.last_seq, rw.last_ts

    # Cut to another source whose numbering is unrelated and about to wrap.
    rw.cut(0xFFFE, 4_294_967_000, now=10.5)
    first = rw.map(0xFFFE, 4_294_967_000, now=10.5)
    assert first == ((last_seq + 1) & 0xFFFF, (last_ts + 45000) & 0xFFFFFFFF)
    second = rw.map(0x0001, 4_294_967_000 + 6000 - (1 << 32), now=10.6)
    assert second is not None
    assert second[0] == (last_seq + 4) & 0xFFFF  # a gap upstream stays a gap
    assert second[1] == (first[1] + 6000) & 0xFFFFFFFF


def test_packets_from_before_the_cut_are_dropped() -> None:
    rw = Rewriter(90000, random.Random(2))
    rw.cut(500, 0, now=1.0)
    assert rw.map(500, 0, now=1.0) is not None
    assert rw.map(499, 0, now=1.0) is None  # late packet of the previous segment
    late = rw.map(502, 6000, now=1.0)
    early = rw.map(501, 3000, now=1.0)  # reordered but after the cut: kept
    assert late is not None and early is not None
    assert (late[0] - early[0]) & 0xFFFF == 1
    assert rw.last_seq == late[0]  # reordering never moves "last" backwards


def test_timestamp_advances_at_least_one_tick() -> None:
    rw = Rewriter(48000, random.Random(3))
    rw.cut(10, 5000, now=2.0)
    rw.map(10, 5000, now=2.0)
    before = rw.last_ts
    rw.cut(7000, 1, now=2.0)  # same instant
    out = rw.map(7000, 1, now=2.0)
    assert out is not None and out[1] == (before + 1) & 0xFFFFFFFF


def test_skip_closes_the_hole_of_a_dropped_packet() -> None:
    rw = Rewriter(90000, random.Random(4))
    rw.cut(10, 0, now=0.0)
    a = rw.map(10, 0, now=0.0)
    rw.skip(11)  # padding only
    b = rw.map(12, 0, now=0.0)
    assert a is not None and b is not None
    assert (b[0] - a[0]) & 0xFFFF == 1


def test_is_far_tells_a_jump_from_reordering() -> None:
    rw = Rewriter(90000, random.Random(5))
    rw.cut(100, 0, now=0.0)
    rw.map(100, 0, now=0.0)
    assert not rw.is_far(90) and not rw.is_far(140)
    assert rw.is_far(100 + 40000) and rw.is_far(60000)
