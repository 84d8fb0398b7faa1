"""The peer's periodic RTCP read without aiortc (`ReportReader`), and the calm downlink that
congestion control looks at only once a second."""

from __future__ import annotations

import struct
from types import SimpleNamespace
from typing import Any

from aiortc.rtp import (
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)

from media.control import CALM_S, DownlinkControl
from media.fastpath import ReportReader
from media.fastpath._datapath import LinkCore


class Receiver:
    """What `ReportReader` reads and writes of an aiortc receiver."""

    def __init__(self, ssrcs: list[int]) -> None:
        self._RTCRtpReceiver__remote_streams = dict.fromkeys(ssrcs)
        self._RTCRtpReceiver__lsr: dict[int, int] = {}
        self._RTCRtpReceiver__lsr_time: dict[int, float] = {}


def block(ssrc: int, lost: int = -3) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(
        ssrc=ssrc,
        fraction_lost=25,
        packets_lost=lost,
        highest_sequence=70_000,
        jitter=9,
        lsr=0x1234,
        dlsr=0x8000,
    )


def test_reports_go_to_their_slots_and_the_rest_to_aiortc() -> None:
    got: dict[int, list[RtcpReceiverInfo]] = {11: [], 12: []}
    receiver = Receiver([900])
    reader = ReportReader({ssrc: got[ssrc].append for ssrc in got}, [receiver])  # type: ignore[list-item]
    ntp = (3_900_000_000 << 32) | (1 << 31)
    sr = RtcpSrPacket(
        ssrc=900,
        sender_info=RtcpSenderInfo(
            ntp_timestamp=ntp, rtp_timestamp=1, packet_count=2, octet_count=3
        ),
        reports=[block(11)],
    )
    rr = RtcpRrPacket(ssrc=901, reports=[block(12, lost=5), block(99)])  # 99: not ours
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=900, items=[(1, b"cname")])])
    nack = RtcpRtpfbPacket(fmt=1, ssrc=901, media_ssrc=11, lost=[7, 8])
    rest = reader(bytes(sr) + bytes(rr) + bytes(sdes) + bytes(nack))
    assert [type(p) for p in RtcpPacket.parse(rest)] == [RtcpRtpfbPacket]  # only the NACK
    (first,) = got[11]
    assert (first.fraction_lost, first.packets_lost, first.lsr, first.dlsr) == (
        25,
        -3,
        0x1234,
        0x8000,
    )
    assert first.highest_sequence == 70_000 and first.jitter == 9
    assert got[12][0].packets_lost == 5
    assert receiver._RTCRtpReceiver__lsr == {900: (ntp >> 16) & 0xFFFFFFFF}


def test_a_compound_it_cannot_walk_is_left_to_aiortc() -> None:
    reader = ReportReader({}, [])
    truncated = struct.pack("!BBHI", 0x81, 201, 7, 1) + b"\x00" * 8  # says 32 bytes, has 16
    assert reader(truncated) == truncated
    assert reader(b"\x80") == b"\x80"


def slot(nacked: int) -> Any:
    return SimpleNamespace(output=SimpleNamespace(nacked=nacked))


def test_a_calm_downlink_is_skipped_until_a_nack_or_its_second_is_up() -> None:
    control = DownlinkControl(LinkCore())  # type: ignore[arg-type]
    slots = [slot(0), slot(0)]
    assert not control.calm(0.0, slots)  # never looked at yet
    control._calm_until, control._calm_nacks = 10.0 + CALM_S, 0
    assert control.calm(10.5, slots)
    assert not control.calm(10.5, [slot(1), slot(0)])  # a NACK: look now
    assert not control.calm(10.0 + CALM_S, slots)  # a second on: look again
