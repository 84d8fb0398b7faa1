"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01),
parsed and built (pure: no I/O, and time is always an argument).

A receiver that negotiated transport-cc reports, for a run of transport-wide sequence numbers,
which packets arrived and when (to 250 µs). This is the feedback that lets a sender judge a
probe by the delay it causes before it causes loss. These are the pieces of a TWCC estimator
per downlink (docs/architecture.md, "Real networks": not wired yet):

- `parse_twcc` turns one RTPFB FMT=15 FCI into (sequence number, arrival time or None) pairs,
  and `build_twcc` / `build_twcc_prefix` do the reverse;
- `FeedbackRecorder` is the receiving end (a bot, or the SFU towards a publisher): it notes
  arrivals and turns them into FCIs;
- `SendHistory` is the sending end: it remembers what went out, so that feedback becomes
  `PacketResult`s (send time, size, arrival time) for media/delay.py.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

RTCP_RTPFB_TWCC = 15
REFERENCE_TIME_UNIT_US = 64_000
DELTA_UNIT_US = 250
MAX_STATUSES = 1 << 14
"""More statuses than one feedback can sensibly carry: a hostile or corrupt packet."""
SEQ_MOD = 1 << 16
MAX_RUN = 0x1FFF
"""The longest run one run-length chunk can say (13 bits)."""
FCI_STATUSES = 1000
"""Statuses per FCI a recorder builds: a few hundred bytes, well inside one MTU."""
RECORDER_SPAN = 4096
"""Sequence numbers a recorder holds unreported; older ones are forgotten (not reported lost:
a sender whose history is this long could not use them anyway)."""
RECORDER_MAX_AGE_US = 2_000_000
"""Arrivals older than this when feedback is finally built are not reported: the sender's
delay estimator has reset by then (media/delay.py), and a stale gap is not congestion."""
HISTORY_SIZE = 4096
"""Packets a sender remembers: well over a second at any rate a downlink carries."""


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


def unwrap_seq(seq: int, near: int) -> int:
    """The unwrapped number whose low 16 bits are `seq`, nearest to `near` (unwrapped)."""
    return near + ((seq - near + 0x8000) & 0xFFFF) - 0x8000


def build_twcc(
    base_sequence: int,
    feedback_count: int,
    reference_time_us: int,
    arrivals: Sequence[tuple[int, int | None]],
) -> bytes:
    """One FCI carrying all of `arrivals` (see `build_twcc_prefix`); ValueError if they do not
    all fit in one."""
    fci, consumed = build_twcc_prefix(base_sequence, feedback_count, reference_time_us, arrivals)
    if consumed < len(arrivals):
        raise ValueError("transport-cc arrivals do not fit in one feedback")
    return fci


def build_twcc_prefix(
    base_sequence: int,
    feedback_count: int,
    reference_time_us: int,
    arrivals: Sequence[tuple[int, int | None]],
) -> tuple[bytes, int]:
    """One FCI for as many of `arrivals` as fit, and how many that is (at least one).

    `arrivals`: (sequence number, arrival µs or None), consecutive from `base_sequence` (mod
    2^16). Times are floored to 250 µs; `reference_time_us` to 64 ms, and is best the first
    arrival (the first delta then fits in a byte). The feedback ends before an arrival whose
    delta from the one before does not fit 16 signed bits (more than 8 s), or after
    `MAX_STATUSES`; the caller starts the next FCI there. ValueError if the sequence numbers
    are not consecutive, or if nothing at all fits.
    """
    reference = reference_time_us // REFERENCE_TIME_UNIT_US
    previous = reference * (REFERENCE_TIME_UNIT_US // DELTA_UNIT_US)
    symbols: list[int] = []
    deltas = bytearray()
    for i, (seq, arrival) in enumerate(arrivals[:MAX_STATUSES]):
        if seq != (base_sequence + i) & 0xFFFF:
            raise ValueError("transport-cc arrivals are not consecutive from the base")
        if arrival is None:
            symbols.append(0)
            continue
        ticks = arrival // DELTA_UNIT_US
        delta = ticks - previous
        if 0 <= delta <= 0xFF:
            symbols.append(1)
            deltas.append(delta)
        elif -0x8000 <= delta <= 0x7FFF:
            symbols.append(2)
            deltas += struct.pack("!h", delta)
        else:
            break
        previous = ticks
    if not symbols:
        raise ValueError("no transport-cc arrival fits a feedback from this reference")
    fci = bytearray(
        struct.pack(
            "!HHI",
            base_sequence & 0xFFFF,
            len(symbols),
            ((reference & 0xFFFFFF) << 8) | (feedback_count & 0xFF),
        )
    )
    fci += _status_chunks(symbols)
    fci += deltas
    fci += bytes(-len(fci) % 4)
    return bytes(fci), len(symbols)


def _status_chunks(symbols: list[int]) -> bytes:
    out = bytearray()
    i, count = 0, len(symbols)
    while i < count:
        symbol = symbols[i]
        run = 1
        while i + run < count and run < MAX_RUN and symbols[i + run] == symbol:
            run += 1
        window = symbols[i : i + 14]
        # A run chunk when it says at least as much as a vector would; short mixed stretches go
        # in a vector, one-bit (14 statuses) when there is no large delta among them.
        if run >= 14 or run == count - i:
            out += struct.pack("!H", (symbol << 13) | run)
            i += run
        elif max(window) <= 1:
            bits = sum(s << (13 - j) for j, s in enumerate(window))
            out += struct.pack("!H", 0x8000 | bits)
            i += len(window)
        elif run >= 7:
            out += struct.pack("!H", (symbol << 13) | run)
            i += run
        else:
            pairs = sum(s << (12 - 2 * j) for j, s in enumerate(window[:7]))
            out += struct.pack("!H", 0xC000 | pairs)
            i += len(window[:7])
    return bytes(out)


class FeedbackRecorder:
    """The receiving end: arrivals noted per packet, reported in FCIs on demand.

    Each `feedback` call reports everything from the first sequence number not yet reported up
    to the highest received: the numbers in between that did not arrive are reported lost, and
    a packet that turns up after its number was reported is ignored (the sender has already
    judged it). Memory is bounded by `RECORDER_SPAN` sequence numbers, however rarely
    `feedback` is called.
    """

    __slots__ = ("_arrivals", "_count", "_floor", "_highest", "_low", "max_age_us", "max_statuses")

    def __init__(
        self, max_statuses: int = FCI_STATUSES, max_age_us: int = RECORDER_MAX_AGE_US
    ) -> None:
        self.max_statuses = max(1, min(max_statuses, MAX_STATUSES))
        self.max_age_us = max_age_us
        self._arrivals: dict[int, int] = {}
        self._highest: int | None = None
        self._floor: int | None = None
        """Unwrapped numbers below this are reported or forgotten: ignored from now on, and
        the next feedback starts here (None: none yet, it starts at the lowest received)."""
        self._low = 0
        """No unwrapped number below this is held (where forgetting starts looking)."""
        self._count = 0

    def record(self, transport_seq: int, arrival_us: int) -> None:
        """One packet received (16-bit transport-wide sequence number, receiver clock)."""
        if self._highest is None:
            # Unwrapped one cycle up, so a packet reordered before the first stays positive.
            seq = self._highest = self._low = (transport_seq & 0xFFFF) + SEQ_MOD
        else:
            seq = unwrap_seq(transport_seq, self._highest)
        if seq in self._arrivals or seq <= self._highest - RECORDER_SPAN:
            return
        if self._floor is not None and seq < self._floor:
            return
        self._arrivals[seq] = arrival_us
        self._low = min(self._low, seq)
        if seq > self._highest:
            self._highest = seq
            if seq - RECORDER_SPAN >= self._low:
                self._forget_below(seq - RECORDER_SPAN + 1)

    def feedback(self, now_us: int) -> list[bytes]:
        """FCIs (after the two SSRCs) for everything recorded since the last call, oldest
        first, each numbered one up (mod 256); [] if nothing new arrived."""
        too_old = now_us - self.max_age_us
        stale = [seq for seq, arrival in self._arrivals.items() if arrival < too_old]
        if stale:
            self._forget_below(max(stale) + 1)
        if not self._arrivals or self._highest is None:
            return []
        start = self._floor if self._floor is not None else min(self._arrivals)
        end = self._highest
        arrivals = [(seq & 0xFFFF, self._arrivals.get(seq)) for seq in range(start, end + 1)]
        fcis: list[bytes] = []
        pos = 0
        while pos < len(arrivals):
            part = arrivals[pos : pos + self.max_statuses]
            reference = next((arrival for _, arrival in part if arrival is not None), 0)
            fci, consumed = build_twcc_prefix(part[0][0], self._count, reference, part)
            fcis.append(fci)
            self._count = (self._count + 1) & 0xFF
            pos += consumed
        self._arrivals.clear()
        self._floor = self._low = end + 1
        return fcis

    def _forget_below(self, floor: int) -> None:
        # Forgotten numbers are skipped, not reported lost: a gap in feedback says nothing
        # about the path.
        if self._floor is None or floor > self._floor:
            self._floor = floor
        if floor <= self._low:
            return
        if floor - self._low > len(self._arrivals):
            self._arrivals = {s: t for s, t in self._arrivals.items() if s >= floor}
        else:
            for seq in range(self._low, floor):
                self._arrivals.pop(seq, None)
        self._low = floor


@dataclass(frozen=True, slots=True)
class PacketResult:
    """What became of one sent packet, per feedback."""

    seq: int
    """Transport-wide sequence number, unwrapped (the wire number is `seq & 0xFFFF`)."""
    send_us: int
    """Sender's clock."""
    size: int
    """Bytes on the wire."""
    arrival_us: int | None
    """Receiver's clock (its offset from the sender's is unknown); None: reported lost."""


_PENDING, _LOST, _RECEIVED = 0, 1, 2


class SendHistory:
    """The sending end of one downlink: a ring of the last `HISTORY_SIZE` packets sent, so
    feedback about them becomes `PacketResult`s.

    Each packet is reported at most once lost and at most once received: feedback repeats
    itself (a receiver that resends, overlapping FCIs), and a second copy of an arrival would
    count its bytes twice in an acked rate. A packet reported lost may still be reported
    received by later feedback (it was reordered, not lost): it is, and `recovered` counts it.
    Feedback about numbers never sent, or sent too long ago, is ignored (`unknown` counts it).
    """

    __slots__ = (
        "_last",
        "_send",
        "_seqs",
        "_sizes",
        "_states",
        "malformed",
        "recovered",
        "unknown",
    )

    def __init__(self, size: int = HISTORY_SIZE) -> None:
        self._seqs = [-1] * size
        self._send = [0] * size
        self._sizes = [0] * size
        self._states = [_PENDING] * size
        self._last: int | None = None
        self.recovered = 0
        self.unknown = 0
        self.malformed = 0

    def sent(self, transport_seq: int, send_us: int, size: int) -> None:
        """One packet went out (16-bit transport-wide sequence number, sender clock, bytes)."""
        if self._last is None:
            seq = self._last = (transport_seq & 0xFFFF) + SEQ_MOD
        else:
            seq = unwrap_seq(transport_seq, self._last)
        if seq <= self._last - len(self._seqs):
            return  # its slot now belongs to a newer packet
        self._last = max(self._last, seq)
        slot = seq % len(self._seqs)
        self._seqs[slot] = seq
        self._send[slot] = send_us
        self._sizes[slot] = size
        self._states[slot] = _PENDING

    def on_feedback(self, feedback: TwccFeedback) -> list[PacketResult]:
        """What this feedback newly says about packets still in the history, in its order."""
        if self._last is None:
            self.unknown += len(feedback.arrivals)
            return []
        results: list[PacketResult] = []
        for wire_seq, arrival in feedback.arrivals:
            seq = unwrap_seq(wire_seq, self._last)
            slot = seq % len(self._seqs)
            if self._seqs[slot] != seq:
                self.unknown += 1
                continue
            state = self._states[slot]
            if arrival is None:
                if state != _PENDING:
                    continue
                self._states[slot] = _LOST
            else:
                if state == _RECEIVED:
                    continue
                if state == _LOST:
                    self.recovered += 1
                self._states[slot] = _RECEIVED
            results.append(PacketResult(seq, self._send[slot], self._sizes[slot], arrival))
        return results

    def on_fci(self, fci: bytes) -> list[PacketResult]:
        """`on_feedback` on a raw FCI; malformed feedback is counted and ignored."""
        try:
            feedback = parse_twcc(fci)
        except ValueError:
            self.malformed += 1
            return []
        return self.on_feedback(feedback)
