"""The seam with aiortc/aioice/pylibsrtp internals, and the bounded downlink."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pylibsrtp
import pytest
from aioice.candidate import Candidate
from aioice.ice import CandidatePair, StunProtocol
from aiortc.rtcdtlstransport import State
from aiortc.rtp import (
    RtcpByePacket,
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpSdesPacket,
    RtcpSrPacket,
    RtpPacket,
)
from pylibsrtp import Policy, Session

from media import fastpath


async def test_private_internals_we_rely_on_exist() -> None:
    # If this fails after an upgrade, read media/fastpath.py before changing any pin.
    assert await fastpath.missing_internals() == []


class FakeSocket:
    """A non-blocking UDP socket whose send buffer can be made full."""

    def __init__(self) -> None:
        self.full = False
        self.sent: list[bytes] = []

    def dup(self) -> FakeSocket:
        return self

    def setblocking(self, flag: bool) -> None:
        assert flag is False

    def sendto(self, data: bytes, addr: Any) -> int:
        if self.full:
            raise BlockingIOError
        self.sent.append(data)
        return len(data)

    def close(self) -> None:
        pass


class FakeUdp:
    def __init__(self) -> None:
        self.sock = FakeSocket()

    def get_extra_info(self, name: str) -> Any:
        assert name == "socket"
        return self.sock


class FakeSrtp:
    def protect(self, data: bytes) -> bytes:
        return b"srtp:" + data


def make_downlink(udp: FakeUdp) -> fastpath.Downlink:
    protocol = StunProtocol(receiver=None)  # type: ignore[arg-type]
    protocol.transport = udp  # type: ignore[assignment]
    remote = Candidate("1", 1, "udp", 1, "10.0.0.2", 5000, "host")
    pair = CandidatePair(protocol, remote)
    connection = SimpleNamespace(_nominated={1: pair})
    dtls = SimpleNamespace(
        transport=SimpleNamespace(_connection=connection),
        _state=State.CONNECTED,
        _tx_srtp=FakeSrtp(),
    )
    downlink = fastpath.Downlink(dtls)  # type: ignore[arg-type]
    downlink._protect = FakeSrtp().protect
    downlink._protect_rtcp = FakeSrtp().protect
    return downlink


async def test_blocked_subscriber_drops_instead_of_buffering() -> None:
    healthy_udp, blocked_udp = FakeUdp(), FakeUdp()
    blocked_udp.sock.full = True  # the kernel stopped taking datagrams
    healthy, blocked = make_downlink(healthy_udp), make_downlink(blocked_udp)
    for i in range(10_000):
        data = healthy.protect(b"x%d" % i)
        assert healthy.send(data)
        assert not blocked.send(data)
    assert len(healthy_udp.sock.sent) == 10_000 and healthy.dropped == 0
    assert blocked_udp.sock.sent == [] and blocked.dropped == 10_000 and blocked.queued() == 0


class FakeSender:
    _ssrc = 42


async def test_slot_output_keeps_bounded_history_for_nack() -> None:
    udp = FakeUdp()
    downlink = make_downlink(udp)
    output = fastpath.SlotOutput(FakeSender(), downlink, history=8)  # type: ignore[arg-type]
    for seq in range(100):
        output.send(b"pkt%d" % seq, seq, seq * 10, 1, 4)
    assert output.packets == 100 and output.octets == 400 and output.last_timestamp == 990
    assert output.retransmit(99) and udp.sock.sent[-1] == b"srtp:pkt99"
    assert output.retransmit(92)
    assert not output.retransmit(91)  # older than the history: nothing resent
    assert len(output._hist_data) == 8


async def test_sender_reports_are_one_compound_packet_and_give_rtt() -> None:
    udp = FakeUdp()
    downlink = make_downlink(udp)
    downlink._protect_rtcp = lambda data: data  # plain, to parse it back
    active = fastpath.SlotOutput(FakeSender(), downlink)  # type: ignore[arg-type]
    idle = fastpath.SlotOutput(type("S", (), {"_ssrc": 43})(), downlink)  # type: ignore[arg-type]
    ntp = (3_900_000_000 << 32) | (1 << 31)
    active.send(b"rtp", 7, 123_456, ntp, 3)
    assert fastpath.send_sender_reports(downlink, [active, idle], "cname-x")
    packets = RtcpPacket.parse(udp.sock.sent[-1])
    assert [type(p) for p in packets] == [RtcpSrPacket, RtcpSdesPacket]  # no SR for idle
    sr = packets[0]
    assert sr.ssrc == 42 and sr.sender_info.rtp_timestamp == 123_456
    assert sr.sender_info.packet_count == 1 and sr.sender_info.octet_count == 3
    # The subscriber answers 50 ms later, having held the SR for 20 ms.
    lsr = (ntp >> 16) & 0xFFFFFFFF
    active._lsr_time -= 0.05
    report = RtcpReceiverInfo(
        ssrc=42,
        fraction_lost=64,
        packets_lost=3,
        highest_sequence=7,
        jitter=0,
        lsr=lsr,
        dlsr=int(0.02 * 65536),
    )
    active.on_report(report)
    assert active.rtt is not None and 0.025 < active.rtt < 0.04
    assert active.fraction_lost == 0.25 and active.packets_lost == 3
    assert not fastpath.send_sender_reports(downlink, [idle], "cname-x")


def test_direct_srtp_matches_pylibsrtp() -> None:
    key = bytes(range(30))
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    protect = fastpath.srtp_processor(tx)
    unprotect = fastpath.srtp_processor(rx, protect=False)
    for seq in range(3):
        plain = RtpPacket(payload_type=96, sequence_number=seq, ssrc=5, payload=b"x" * 50)
        data = bytes(plain.serialize())
        protected = protect(data)
        assert protected != data and unprotect(protected) == data
    with pytest.raises(pylibsrtp.Error):
        unprotect(protected)  # a replay
    # aiortc's own calls on the same sessions keep working in between.
    rtcp = bytes(RtcpByePacket(sources=[5]))
    assert rx.unprotect_rtcp(tx.protect_rtcp(rtcp)) == rtcp


def test_remb_pacer_sends_drops_at_once_and_rises_slowly() -> None:
    from media.fastpath.receive import RembPacer

    due = RembPacer(interval_ms=200)
    assert due(1_000_000, 0)
    assert not due(1_000_000, 50)  # same value, too soon
    assert not due(1_200_000, 100)  # a rise waits
    assert due(800_000, 120)  # a 20% drop goes out at once
    assert due(1_000_000, 400)


def test_fast_rate_counter_matches_aiortc() -> None:
    import random

    from aiortc.rate import RateCounter

    from media.fastpath.receive import FastRateCounter

    rng = random.Random(7)
    ours, theirs = FastRateCounter(1000, 8000), RateCounter(1000, 8000)
    now = 5_000
    for step in range(5000):
        now += rng.choice([0, 1, 3, 16, 33, 200, 1500]) if step % 500 else 4000
        if rng.random() < 0.01:
            ours.reset()
            theirs.reset()
        assert ours.rate(now) == theirs.rate(now)
        size = rng.randrange(100, 1300)
        ours.add(size, now)
        theirs.add(size, now)
    assert ours.rate(now) == theirs.rate(now) is not None


async def test_relayed_pair_uses_a_bounded_queue() -> None:
    class RelayProtocol:  # a TURN pair: sends need a coroutine
        def __init__(self) -> None:
            self.sent: list[bytes] = []
            self.gate = asyncio.Event()

        async def send_data(self, data: bytes, addr: Any) -> None:
            await self.gate.wait()
            self.sent.append(data)

    protocol = RelayProtocol()
    remote = Candidate("1", 1, "udp", 1, "10.0.0.2", 5000, "relay")
    pair = CandidatePair(protocol, remote)  # type: ignore[arg-type]
    dtls = SimpleNamespace(
        transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
        _state=State.CONNECTED,
        _tx_srtp=FakeSrtp(),
    )
    downlink = fastpath.Downlink(dtls, max_queue=4)  # type: ignore[arg-type]
    for i in range(10):  # the relay is stuck: only the newest 4 wait, nothing else grows
        downlink.send(b"p%d" % i)
    assert downlink.queued() == 4 and downlink.dropped == 6
    protocol.gate.set()
    await asyncio.sleep(0.01)
    assert protocol.sent[-3:] == [b"p7", b"p8", b"p9"] and downlink.queued() == 0
    downlink.close()


async def test_audio_never_waits_behind_queued_video() -> None:
    class RelayProtocol:  # a TURN pair that is busy for a moment
        def __init__(self) -> None:
            self.sent: list[bytes] = []
            self.gate = asyncio.Event()

        async def send_data(self, data: bytes, addr: Any) -> None:
            await self.gate.wait()
            self.sent.append(data)

    protocol = RelayProtocol()
    pair = CandidatePair(protocol, Candidate("1", 1, "udp", 1, "10.0.0.2", 5000, "relay"))  # type: ignore[arg-type]
    dtls = SimpleNamespace(
        transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
        _state=State.CONNECTED,
        _tx_srtp=FakeSrtp(),
    )
    downlink = fastpath.Downlink(dtls)  # type: ignore[arg-type]
    downlink.send(b"v0")  # taken by the drain task, which then waits on the relay
    await asyncio.sleep(0)
    for i in range(1, 6):
        downlink.send(b"v%d" % i)  # a burst of video (a keyframe)
    downlink.send(b"a1", urgent=True)  # then audio
    assert downlink.queued() == 6
    protocol.gate.set()
    await asyncio.sleep(0.01)
    assert protocol.sent[:3] == [b"v0", b"a1", b"v1"]
    downlink.close()
