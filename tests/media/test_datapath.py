"""The C data path (media/fastpath/_datapath.c) against the Python rules it implements.

Real libsrtp sessions (pylibsrtp) on both ends; the Python reference implementations (aiortc's
`StreamStatistics`, media/vp8.py, media/twcc.py) are the oracle.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from typing import Any

import pylibsrtp
import pytest
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket
from pylibsrtp import Policy, Session

from media.fastpath import srtp_entry
from media.fastpath._datapath import LinkCore, ReceiverCore, SocketReader, StatsCore
from media.forwarder import build_extension_block
from media.source import Source
from media.twcc import parse_twcc
from media.vp8 import is_vp8_keyframe, vp8_picture_fields

KEY = bytes(range(30))
LEVEL_ID, TCC_ID = 2, 5
VP8 = 96


def session_pair() -> tuple[Session, Session]:
    profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    tx = Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    rx = Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    return tx, rx


def rtp(
    seq: int,
    payload: bytes = b"\x10\x00\x00payload",
    ssrc: int = 1234,
    pt: int = VP8,
    ts: int = 9000,
    marker: int = 0,
    tcc: int | None = None,
    level: int | None = None,
    padding: int = 0,
) -> bytes:
    elements = []
    if level is not None:
        elements.append((LEVEL_ID, bytes((level,))))
    if tcc is not None:
        elements.append((TCC_ID, struct.pack("!H", tcc & 0xFFFF)))
    ext = build_extension_block(elements)
    first = 0x80 | (0x10 if ext else 0) | (0x20 if padding else 0)
    tail = (bytes(padding - 1) + bytes((padding,))) if padding else b""
    header = struct.pack("!BBHII", first, (marker << 7) | pt, seq & 0xFFFF, ts, ssrc)
    return header + ext + payload + tail


class Recorder:
    """A consumer slot stand-in: remembers what `write` got."""

    def __init__(self) -> None:
        self.writes: list[tuple[Any, ...]] = []

    def write(self, *args: Any) -> None:
        self.writes.append(args)

    def skip(self, *args: Any) -> None:
        self.writes.append(("skip", *args))


def keyed_core() -> tuple[ReceiverCore, Session]:
    tx, rx = session_pair()
    core = ReceiverCore()
    core.set_srtp(*srtp_entry(rx, unprotect=True))
    core.set_ids(LEVEL_ID, TCC_ID)
    return core, tx


def routed_source(core: ReceiverCore, ssrc: int = 1234, newest: int = 99) -> tuple[Source, Any]:
    source = Source("pub", "video", send_pli=lambda ssrc: None)
    source.layer_of_ssrc[ssrc] = 0
    source.layers[0].ssrc = ssrc
    slot = Recorder()
    source.consumers.append(slot)  # type: ignore[arg-type]
    stats = StatsCore(90000)
    core.add_route(ssrc, source, 0, stats, VP8, newest)
    return source, slot


async def test_without_a_route_the_plaintext_goes_back_to_python() -> None:
    core, tx = keyed_core()
    packet = rtp(7, level=0x85)
    assert core.datagram(tx.protect(packet)) == packet
    assert (core.forwarded, core.returned) == (0, 1)


async def test_a_steady_stream_is_forwarded_in_c_and_anything_else_returns() -> None:
    core, tx = keyed_core()
    source, slot = routed_source(core, newest=99)
    keyframe = b"\x90\x80\x81\x02\x10\x02\x00\x9d\x01\x2a"  # S=1, pid 0x102, key frame tag
    assert core.datagram(tx.protect(rtp(100, keyframe, marker=1, ts=4242))) is None
    (args,) = slot.writes
    assert args[0] is source and args[1:6] == (0, 100, 4242, 1, keyframe)
    assert args[6] is True and args[10] == vp8_picture_fields(keyframe)
    assert source.packets_in == 1 and source.frames_in == 1
    assert source.layers[0].keyframes_in == 1
    # A gap (NACKs are Python's), a late packet, another payload type, padding only: back.
    for packet in (rtp(102), rtp(98), rtp(103, pt=97), rtp(104, payload=b"", padding=4)):
        assert core.datagram(tx.protect(packet)) == packet
    assert core.datagram(tx.protect(rtp(101))) is None
    assert (core.forwarded, core.returned) == (2, 4) and len(slot.writes) == 2
    route = core.route(1234)
    assert route is not None and route.max_seq == 101
    source.closed = True  # a closed source's packets are Python's to drop
    assert core.datagram(tx.protect(rtp(105, ssrc=1234))) is not None


async def test_source_bookkeeping_matches_the_python_rules() -> None:
    rng = random.Random(4)
    source = Source("pub", "video", send_pli=lambda ssrc: None)
    slot = Recorder()
    source.consumers.append(slot)  # type: ignore[arg-type]
    for seq in range(2000):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
        if rng.random() < 0.3:
            payload = bytes((0x90, rng.choice((0x80, 0xC0, 0x40)))) + payload
        source.on_packet(RtpPacket(payload_type=VP8, sequence_number=seq, ssrc=1, payload=payload))
        args = slot.writes[-1]
        if not payload:
            assert args[0] == "skip"
            continue
        assert args[6] is is_vp8_keyframe(payload)
        assert args[10] == vp8_picture_fields(payload)


async def test_audio_levels_feed_the_speaker_tracker() -> None:
    core, tx = keyed_core()
    source = Source("pub", "audio", send_pli=lambda ssrc: None)
    source.layer_of_ssrc[77] = 0
    slot = Recorder()
    source.consumers.append(slot)  # type: ignore[arg-type]
    core.add_route(77, source, 0, StatsCore(48000), 111, 9)
    assert core.datagram(tx.protect(rtp(10, b"opus", ssrc=77, pt=111, level=0x80 | 30))) is None
    assert source.level == 30 and source.loud_at > 0 and slot.writes[-1][7] == 0x80 | 30
    assert core.datagram(tx.protect(rtp(11, b"opus", ssrc=77, pt=111, level=127))) is None
    assert source.level == 127


def test_stats_match_aiortc_stream_statistics() -> None:
    rng = random.Random(7)
    ours, theirs = StatsCore(90000), StreamStatistics(90000)
    seq = 65000
    for _ in range(5000):
        roll = rng.random()
        step = 1 if roll < 0.9 else (rng.randrange(2, 6) if roll < 0.97 else -rng.randrange(1, 4))
        seq = (seq + step) & 0xFFFF
        packet = RtpPacket(sequence_number=seq, timestamp=seq * 3000)
        ours.add(packet)
        theirs.add(packet)
        if rng.random() < 0.01:
            assert ours.fraction_lost == theirs.fraction_lost
    for name in ("base_seq", "max_seq", "cycles", "packets_received", "packets_expected"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.packets_lost == theirs.packets_lost


async def test_transport_cc_feedback_reports_every_number_once() -> None:
    core, tx = keyed_core()
    sent = [65530 + i for i in range(12) if i not in (3, 7)]  # wraps; 3 and 7 are lost
    order = [*sent[:5], sent[6], sent[5], *sent[7:], sent[2]]  # reordered, one duplicate
    for n, tcc in enumerate(order):
        core.datagram(tx.protect(rtp(n, tcc=tcc)))
    (fci,) = core.feedback()
    feedback = parse_twcc(fci)
    assert feedback.base_sequence == 65530
    got = [(seq, at is not None) for seq, at in feedback.arrivals]
    assert got == [((65530 + i) & 0xFFFF, i not in (3, 7)) for i in range(12)]
    assert core.feedback() == []  # nothing new
    core.datagram(tx.protect(rtp(99, tcc=(65530 + 13) & 0xFFFF)))
    (fci,) = core.feedback()
    later = parse_twcc(fci)  # the gap since the last feedback is reported lost
    assert [s for s, at in later.arrivals] == [(65530 + 12) & 0xFFFF, (65530 + 13) & 0xFFFF]
    assert [at is None for s, at in later.arrivals] == [True, False]
    assert later.feedback_count == (feedback.feedback_count + 1) & 0xFF


async def test_feedback_splits_long_runs() -> None:
    core, tx = keyed_core()
    for n in range(2500):
        core.datagram(tx.protect(rtp(n, tcc=n)))
    fcis = core.feedback(max_statuses=1000)
    assert [parse_twcc(f).base_sequence for f in fcis] == [0, 1000, 2000]
    assert sum(len(parse_twcc(f).arrivals) for f in fcis) == 2500


async def test_hostile_datagrams_raise_value_error_and_nothing_else() -> None:
    core, tx = keyed_core()
    routed_source(core)
    rng = random.Random(11)
    for _ in range(3000):
        size = rng.randrange(0, 1600)
        junk = bytes((0x80 | rng.randrange(0x40),)) + rng.randbytes(max(0, size - 1))
        with pytest.raises(ValueError):
            core.datagram(junk)
    # Authentic SRTP around a broken RTP header (libsrtp refuses some itself, both ways).
    through = 0
    for broken in (
        struct.pack("!BBHII", 0x90, VP8, 100, 0, 1234) + b"\xbe\xde\x00\x09",
        struct.pack("!BBHII", 0xA0, VP8, 101, 0, 1234) + b"ab\xff",
        struct.pack("!BBHII", 0xA0, VP8, 102, 0, 1234) + b"\x00",
        struct.pack("!BBHII", 0x8F, VP8, 103, 0, 1234),
    ):
        try:
            datagram = tx.protect(broken)
        except pylibsrtp.Error:
            continue
        through += 1
        with pytest.raises(ValueError):
            core.datagram(datagram)
    assert through >= 2
    with pytest.raises(ValueError):
        core.datagram(bytes(70_000))


async def test_socket_reader_drains_and_delivers_like_the_transport() -> None:
    core, tx = keyed_core()
    a, b = (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    )
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    b.setblocking(False)
    got_rtp: list[bytes] = []
    got_other: list[tuple[bytes, Any]] = []
    errors: list[Exception] = []
    reader = SocketReader(
        b.fileno(), core, got_rtp.append, lambda d, addr: got_other.append((d, addr)), errors.append
    )
    packets = [rtp(n) for n in range(100)]
    for packet in packets:
        a.sendto(tx.protect(packet), b.getsockname())
    a.sendto(b"\x00\x01stun", b.getsockname())
    a.sendto(b"\x80\xc8rtcp-looking", b.getsockname())
    await asyncio.sleep(0.05)
    reader.readable()
    reader.readable()
    assert got_rtp == packets[:]  # no route: every plaintext back, in order
    assert [d for d, _ in got_other] == [b"\x00\x01stun", b"\x80\xc8rtcp-looking"]
    assert got_other[0][1] == a.getsockname() and not errors
    assert reader.datagrams == 102
    a.close()
    b.close()


def test_hostile_transport_feedback_is_refused_or_read_never_more() -> None:
    link = LinkCore()
    link.set_transport_cc(3)
    rng = random.Random(5)
    refused = 0
    for _ in range(5000):
        fci = rng.randbytes(rng.randrange(0, 80))
        try:
            link.transport_feedback(fci)
        except ValueError:
            refused += 1
    received, lost, malformed = link.take_transport_counts()
    assert malformed == refused > 0
    assert received == lost == 0  # nothing was sent: no feedback can claim a packet of ours
