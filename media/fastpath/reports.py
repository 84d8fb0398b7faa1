"""RTCP on our own terms: the reports to and from each peer, its transport-cc feedback.

aiortc runs a report loop per receiver and turns every RTCP packet into objects handled by a
task each; at one compound packet per peer and second that was a tenth of the SFU's CPU. Here:
receiver report blocks built for `send.send_sender_reports` (one compound per peer), the
peer's SR/RR/SDES read synchronously (`ReportReader`), and its transport-cc feedback taken out
before aiortc sees the rest (`tap_transport_feedback`, for relayed connections; the C path
takes it in dp_feedback.c). Private fields of aiortc 1.16: see `media.fastpath`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpReceiver
from aiortc.rtp import RtcpReceiverInfo

from ._datapath import ReceiverCore

if TYPE_CHECKING:
    from .send import Downlink

logger = logging.getLogger(__name__)

REPORTS = "_interviewday_reports"  # our ReportReader, set on the DTLS transport
RTCP_SR, RTCP_RR, RTCP_SDES = 200, 201, 202


RTCP_RTPFB, RTPFB_TRANSPORT_CC = 205, 15


def tap_transport_feedback(dtls: Any, on_feedback: Callable[[bytes], None]) -> None:
    """Transport-cc feedback the peer sends (RTPFB FMT=15) goes to `on_feedback(fci)`, the rest
    of its RTCP to aiortc, which knows no transport-cc (it would parse each into a NACK)."""
    original = dtls._handle_rtcp_data

    async def handle_rtcp_data(data: bytes) -> None:
        rest = bytearray()
        pos = 0
        while pos + 4 <= len(data):
            end = pos + 4 * (((data[pos + 2] << 8) | data[pos + 3]) + 1)
            if end > len(data):
                break
            if data[pos + 1] == RTCP_RTPFB and data[pos] & 0x1F == RTPFB_TRANSPORT_CC:
                if end - pos >= 12:
                    try:
                        on_feedback(bytes(data[pos + 12 : end]))
                    except Exception:  # a consumer's failure must not stop the RTCP
                        logger.exception("transport-cc feedback failed")
            else:
                rest += data[pos:end]
            pos = end
        if pos != len(data):  # not a compound we can walk: aiortc decides what it is
            rest = bytearray(data)
        if rest:
            await original(bytes(rest))

    dtls._handle_rtcp_data = handle_rtcp_data


def still_report_loop(receiver: Any) -> None:
    """aiortc starts `_run_rtcp` on `receive()` and waits on its two events in `stop()`: an
    idle stand-in keeps that handshake without the timer."""
    started = receiver._RTCRtpReceiver__rtcp_started
    exited = receiver._RTCRtpReceiver__rtcp_exited

    async def idle() -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()  # until stop() cancels it
        exited.set()

    receiver._run_rtcp = idle


class ReportReader:
    """The peer's periodic RTCP read without aiortc: sender reports (the LSR a receiver report
    echoes), report blocks about what we send it (to the slot's `on_report`) and SDES. Their
    objects, routing and one task per packet in aiortc cost more than all the rest of the RTCP
    together; what else comes (NACK, PLI, REMB, BYE) is returned for aiortc.
    """

    __slots__ = ("_on_report", "_receivers")

    def __init__(
        self,
        on_report: dict[int, Callable[[RtcpReceiverInfo], None]],
        receivers: Sequence[RTCRtpReceiver],
    ) -> None:
        self._on_report = on_report
        """Our SSRC -> what wants the peer's report block about it."""
        self._receivers: list[Any] = list(receivers)

    def __call__(self, plain: bytes) -> bytes:
        rest = bytearray()
        pos = 0
        while pos + 8 <= len(plain):
            first, kind, words, ssrc = struct.unpack_from("!BBHI", plain, pos)
            end = pos + 4 * (words + 1)
            if end > len(plain) or first >> 6 != 2:
                return bytes(rest) + plain[pos:]  # not ours to judge: aiortc decides
            if kind == RTCP_SR and end - pos >= 28:
                ntp = struct.unpack_from("!Q", plain, pos + 8)[0]
                self._sender_report(ssrc, ntp)
                self._blocks(plain, pos + 28, first & 0x1F, end)
            elif kind == RTCP_RR:
                self._blocks(plain, pos + 8, first & 0x1F, end)
            elif kind != RTCP_SDES:
                rest += plain[pos:end]
            pos = end
        return bytes(rest) + plain[pos:]  # a tail too short to be a packet: aiortc decides

    def _sender_report(self, ssrc: int, ntp: int) -> None:
        """As aiortc's receiver keeps it, for the LSR/DLSR of our receiver reports."""
        for receiver in self._receivers:
            if ssrc in receiver._RTCRtpReceiver__remote_streams:
                receiver._RTCRtpReceiver__lsr[ssrc] = (ntp >> 16) & 0xFFFFFFFF
                receiver._RTCRtpReceiver__lsr_time[ssrc] = time.time()

    def _blocks(self, plain: bytes, pos: int, count: int, end: int) -> None:
        for _ in range(count):
            if pos + 24 > end:
                return
            ssrc, lost_word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", plain, pos)
            pos += 24
            handler = self._on_report.get(ssrc)
            if handler is None:
                continue
            lost = lost_word & 0xFFFFFF
            if lost & 0x800000:
                lost -= 0x1000000
            handler(
                RtcpReceiverInfo(
                    ssrc=ssrc,
                    fraction_lost=lost_word >> 24,
                    packets_lost=lost,
                    highest_sequence=highest,
                    jitter=jitter,
                    lsr=lsr,
                    dlsr=dlsr,
                )
            )


def read_reports(
    dtls: Any,
    on_report: dict[int, Callable[[RtcpReceiverInfo], None]],
    receivers: Sequence[RTCRtpReceiver],
) -> None:
    """Read the peer's periodic RTCP on this transport with a `ReportReader` (after
    `fast_receive`)."""
    setattr(dtls, REPORTS, ReportReader(on_report, receivers))


def receiver_rtcp_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC this receiver's reports come from (aiortc's, per transceiver)."""
    target: Any = receiver
    ssrc: int | None = target._RTCRtpReceiver__rtcp_ssrc
    return ssrc


def receiver_report_blocks(receiver: RTCRtpReceiver, now: float) -> list[RtcpReceiverInfo]:
    """This receiver's RR blocks, one per stream, as aiortc's `_run_rtcp` builds them (the
    fraction lost since the last call; LSR/DLSR from the last SR of each stream)."""
    target: Any = receiver
    lsrs: dict[int, int] = target._RTCRtpReceiver__lsr
    lsr_times: dict[int, float] = target._RTCRtpReceiver__lsr_time
    blocks = []
    for ssrc, stream in target._RTCRtpReceiver__remote_streams.items():
        lsr = dlsr = 0
        if ssrc in lsrs:
            lsr = lsrs[ssrc]
            delay = now - lsr_times[ssrc]
            if 0 < delay < 65536:
                dlsr = int(delay * 65536)
        blocks.append(
            RtcpReceiverInfo(
                ssrc=ssrc,
                fraction_lost=stream.fraction_lost,
                packets_lost=stream.packets_lost,
                highest_sequence=stream.max_seq,
                jitter=stream.jitter,
                lsr=lsr,
                dlsr=dlsr,
            )
        )
    return blocks


def send_transport_feedback(
    core: ReceiverCore, downlink: Downlink, sender_ssrc: int, media_ssrc: int
) -> None:
    """This round's transport-cc feedback on what `core` received, out on `downlink` (built,
    protected and sent in C; on a TURN pair the downlink queues what C hands back)."""
    relayed = core.send_feedback(downlink, sender_ssrc, media_ssrc)
    if relayed is not None:
        downlink.send(relayed)
