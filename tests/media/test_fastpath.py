"""The seam with aiortc/aioice/pylibsrtp internals, and the bounded downlink."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aioice.candidate import Candidate
from aioice.ice import CandidatePair, StunProtocol
from aiortc.rtcdtlstransport import State

from media import fastpath


async def test_private_internals_we_rely_on_exist() -> None:
    # If this fails after an upgrade, read media/fastpath.py before changing any pin.
    assert await fastpath.missing_internals() == []


class FakeUdp:
    def __init__(self) -> None:
        self.buffered = 0
        self.sent: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)


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
    return fastpath.Downlink(dtls, max_buffer=64 * 1024)  # type: ignore[arg-type]


async def test_blocked_subscriber_drops_instead_of_buffering() -> None:
    healthy_udp, blocked_udp = FakeUdp(), FakeUdp()
    blocked_udp.buffered = 10 * 1024 * 1024  # the kernel stopped taking datagrams
    healthy, blocked = make_downlink(healthy_udp), make_downlink(blocked_udp)
    for i in range(10_000):
        data = healthy.protect(b"x%d" % i)
        assert healthy.send(data)
        assert not blocked.send(data)
    assert len(healthy_udp.sent) == 10_000 and healthy.dropped == 0
    assert blocked_udp.sent == [] and blocked.dropped == 10_000 and blocked.queued() == 0


async def test_slot_output_keeps_bounded_history_for_nack() -> None:
    udp = FakeUdp()
    downlink = make_downlink(udp)

    class FakeSender:
        _ssrc = 42
        _RTCRtpSender__packet_count = 0
        _RTCRtpSender__octet_count = 0
        _RTCRtpSender__rtp_timestamp = 0
        _RTCRtpSender__ntp_timestamp = 0

    sender = FakeSender()
    output = fastpath.SlotOutput(sender, downlink, history=8)  # type: ignore[arg-type]
    for seq in range(100):
        output.send(b"pkt%d" % seq, seq, seq * 10, 1, 4)
    assert sender._RTCRtpSender__packet_count == 100
    assert sender._RTCRtpSender__rtp_timestamp == 990
    assert output.retransmit(99) and udp.sent[-1] == b"srtp:pkt99"
    assert output.retransmit(92)
    assert not output.retransmit(91)  # older than the history: nothing resent
    assert len(output._hist_data) == 8
