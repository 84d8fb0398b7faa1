"""Subscriber side of the fast path: synchronous SRTP sends, sender reports, RTCP feedback.

Private fields of aiortc 1.16 / aioice 0.13 / pylibsrtp 1.0: see `media.fastpath`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import pylibsrtp
from aioice.ice import CandidatePair, Connection, StunProtocol
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    unpack_remb_fci,
)

from ._datapath import LinkCore, OutputCore
from .receive import srtp_entry, srtp_processor
from .reports import receiver_report_blocks, receiver_rtcp_ssrc

logger = logging.getLogger(__name__)

MAX_REPORT_BLOCKS = 31  # an RR's report count is five bits
RESEND_GAP_S = 0.1
"""A packet is re-sent at most once per this interval, however often it is NACKed."""


def tap_sender(
    sender: RTCRtpSender,
    on_keyframe_request: Callable[[], None],
    on_nack: Callable[[list[int]], None] | None = None,
    on_report: Callable[[RtcpReceiverInfo], None] | None = None,
    on_remb: Callable[[int], None] | None = None,
) -> None:
    """Intercept RTCP addressed to `sender`.

    PLI/FIR -> `on_keyframe_request`; NACK -> `on_nack(lost seqs)`; the subscriber's report
    block about this SSRC -> `on_report`; REMB (the subscriber's receive estimate, bits/s) ->
    `on_remb`. Without a handler aiortc keeps the packet (a REMB is then dropped: a forwarded
    stream has no encoder whose bitrate it could set).
    """
    target: Any = sender
    original = target._handle_rtcp_packet
    ssrc = target._ssrc

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                on_keyframe_request()
            elif packet.fmt == RTCP_PSFB_APP and on_remb is not None:
                with contextlib.suppress(ValueError):  # not a REMB: another application's
                    on_remb(unpack_remb_fci(packet.fci)[0])
            return
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            if on_nack is not None:
                on_nack(list(packet.lost))
                return
        elif isinstance(packet, RtcpRrPacket | RtcpSrPacket) and on_report is not None:
            for report in packet.reports:
                if report.ssrc == ssrc:
                    on_report(report)
            return
        await original(packet)

    target._handle_rtcp_packet = handle_rtcp_packet


def detach_sender(sender: RTCRtpSender) -> None:
    """Keep aiortc from running this sender: no send loop, no RTCP loop of its own.

    When the connection comes up aiortc calls `sender.send()`; instead of starting two tasks
    per sender it then only registers the sender for RTCP routing (PLI, NACK, RR reach
    `tap_sender`'s handler). Media goes out through `SlotOutput`, sender reports through
    `send_sender_reports`, for all of a participant's slots in one compound packet.
    """
    target: Any = sender

    async def send(parameters: Any) -> None:
        target.transport._register_rtp_sender(target, parameters)

    target.send = send


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The MediaStream id the answer's msid gives this sender's track (aiortc: one per pc)."""
    target: Any = sender
    target._stream_id = stream_id


def sender_has_encoder(sender: RTCRtpSender) -> bool:
    """Whether aiortc created an encoder (or packetizer) for this sender: never on a slot."""
    target: Any = sender
    return target._RTCRtpSender__encoder is not None


class Downlink(LinkCore):
    """Writes SRTP datagrams to one peer's nominated ICE pair without awaiting.

    On a host/server-reflexive pair the datagram goes straight to (a duplicate of) the pair's
    non-blocking UDP socket; when the kernel's send buffer is full the datagram is dropped: a
    slow or blocked subscriber costs nothing and delays nobody, and nothing queues in Python.
    Once keyed and on such a pair, protect and send run in C (`LinkCore`); the pair is chosen
    once (aioice nominates one pair per connection and has no ICE restart).
    On a TURN pair sends need a coroutine: they go through a bounded queue drained by one
    task, oldest dropped when full; audio ("urgent") has a queue of its own, drained first, so
    it never waits behind a burst of video.

    `rtx_budget` is the bytes of retransmissions allowed now (congestion control refills it).
    """

    __slots__ = (
        "_addr",
        "_connection",
        "_drain_task",
        "_dtls",
        "_pair",
        "_protect",
        "_protect_rtcp",
        "_queue",
        "_sock",
        "_urgent",
        "_wakeup",
    )

    def __init__(self, dtls: RTCDtlsTransport, max_queue: int = 256) -> None:
        super().__init__()
        self._dtls: Any = dtls
        self._connection: Connection = self._dtls.transport._connection
        self._pair: CandidatePair | None = None
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] = ("", 0)
        self._protect: Callable[[bytes], bytes] | None = None
        self._protect_rtcp: Callable[[bytes], bytes] | None = None
        self._queue: deque[bytes] = deque(maxlen=max_queue)
        self._urgent: deque[bytes] = deque(maxlen=max_queue)
        self._wakeup: asyncio.Event | None = None
        self._drain_task: asyncio.Task[None] | None = None
        on = getattr(dtls, "on", None)
        if on is not None:
            on("statechange", self._on_dtls_state)

    @property
    def ready(self) -> bool:
        """DTLS is up, so SRTP keys exist."""
        return self._dtls._state is State.CONNECTED and self._dtls._tx_srtp is not None

    def _on_dtls_state(self) -> None:
        session = self._dtls._tx_srtp
        if self.ready and isinstance(session, pylibsrtp.Session):
            self.set_srtp(*srtp_entry(session))  # keyed: RTCP may go out before any media
        elif not self.ready:
            self.clear_srtp()  # C must not protect for a transport that is gone

    def _protect_slow(self, plain: bytes) -> bytes:
        """Not keyed in C yet: key it if the session is libsrtp's, else protect in Python."""
        protect = self._protect
        if protect is None:
            session = self._dtls._tx_srtp
            if isinstance(session, pylibsrtp.Session) and self.ready:
                self.set_srtp(*srtp_entry(session))
                return self.protect(plain)
            protect = self._protect = srtp_processor(session)
        return protect(plain)

    def protect_rtcp(self, plain: bytes) -> bytes:
        protect = self._protect_rtcp
        if protect is None:
            protect = self._protect_rtcp = srtp_processor(self._dtls._tx_srtp, rtcp=True)
        return protect(plain)

    def _send_slow(self, data: bytes, urgent: bool = False) -> bool:
        """No socket in C: pick the nominated pair, then send on its socket or queue (TURN)."""
        pair = self._connection._nominated.get(1)
        if pair is not self._pair:
            if pair is None:
                self.dropped += 1
                return False
            self._select(pair)
            if self.direct:
                return self.send(data, urgent)
        sock = self._sock
        if sock is not None:
            try:
                sock.sendto(data, self._addr)
            except OSError:  # BlockingIOError: send buffer full; others: network gone
                self.dropped += 1
                return False
            self.sent += 1
            self.octets_sent += len(data)
            return True
        self.octets_sent += len(data)
        queue = self._urgent if urgent else self._queue
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append(data)
        if self._wakeup is not None:
            self._wakeup.set()
        return True

    def queued(self) -> int:
        return len(self._queue) + len(self._urgent)

    def _next(self) -> bytes | None:
        """The next queued datagram: audio before video."""
        if self._urgent:
            return self._urgent.popleft()
        if self._queue:
            return self._queue.popleft()
        return None

    def _select(self, pair: CandidatePair) -> None:
        self._close_socket()
        self._pair = pair
        self._addr = pair.remote_addr
        protocol = pair.protocol
        if type(protocol) is StunProtocol:
            self._sock = protocol.transport.get_extra_info("socket").dup()
            self._sock.setblocking(False)
            if isinstance(self._sock, socket.socket):
                self.set_socket(self._sock.fileno(), self._addr[0], self._addr[1])
        elif self._drain_task is None:
            self._wakeup = asyncio.Event()
            self._drain_task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while (data := self._next()) is not None:
                pair = self._pair
                if pair is None:
                    continue
                try:
                    await pair.protocol.send_data(data, self._addr)
                    self.sent += 1
                except Exception as exc:  # one subscriber's failure must not end the loop
                    self.dropped += 1
                    logger.debug("relayed send failed: %r", exc)

    def _close_socket(self) -> None:
        self.clear_socket()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self._close_socket()
        self.clear_srtp()
        self._pair = None
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None
        self._queue.clear()


class SlotOutput(OutputCore):
    """One outgoing RTP stream (a subscriber's receive slot): SRTP, send, history, reports.

    The history keeps the protected datagrams of the last `history` packets, so a NACK is
    answered by re-sending the exact bytes: no second protect, which libsrtp would refuse as
    a replay. The counters feed our sender reports; the subscriber's receiver reports give
    round-trip time and loss. `send`, the counters and the history are C (`OutputCore`);
    `_send_slow` is the path for a link that is not keyed in C or not on a socket.
    `urgent` (audio) is queued ahead of video where the downlink has to queue (TURN).
    """

    __slots__ = (
        "_lsr",
        "_lsr_time",
        "fraction_lost",
        "nack_high",
        "nacked",
        "packets_lost",
        "reports",
        "rtt",
        "rtt_last",
        "sender",
    )
    _downlink: Downlink

    def __init__(
        self,
        sender: RTCRtpSender,
        downlink: Downlink,
        history: int = 0,
        urgent: bool = False,
        ssrc: int | None = None,
    ) -> None:
        target: Any = sender
        super().__init__(downlink, target._ssrc if ssrc is None else ssrc, history, urgent)
        self.sender = sender
        self._lsr = -1
        self._lsr_time = 0.0
        self.rtt: float | None = None
        self.rtt_last: float | None = None
        """The newest round-trip sample, unsmoothed (a growing queue shows here first)."""
        self.packets_lost = 0
        self.fraction_lost = 0.0
        self.nacked = 0
        """Sequence numbers the subscriber reported missing (a fast loss signal)."""
        self.nack_high = -1
        self.reports = 0

    @property
    def ready(self) -> bool:
        return self._downlink.ready

    def _send_slow(self, plain: bytes, seq: int, timestamp: int, ntp: int, size: int) -> bool:
        downlink = self._downlink
        if not downlink.ready:
            return False
        data = downlink.protect(plain)
        self._remember(data, seq, timestamp, ntp, size)
        return downlink.send(data, self.urgent)

    def retransmit(self, seq: int) -> bool:
        """Re-send one packet from the history: at most once per `RESEND_GAP_S`, and only
        within the downlink's retransmission budget (a congested link NACKs everything; answering
        all of it would only deepen the congestion)."""
        data = self._claim(seq, time.monotonic(), RESEND_GAP_S)
        if data is None:
            return False
        downlink = self._downlink
        if downlink.rtx_budget < len(data):
            downlink.rtx_refused += 1
            self._unclaim(seq)
            return False
        downlink.rtx_budget -= len(data)
        return downlink.send(data, self.urgent)

    def sender_report(self, now: float) -> RtcpSrPacket | None:
        """The SR for this stream (None before its first packet); remembered for RTT."""
        if not self.packets:
            return None
        self._lsr = (self.last_ntp >> 16) & 0xFFFFFFFF
        self._lsr_time = now
        return RtcpSrPacket(
            ssrc=self.ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=self.last_ntp,
                rtp_timestamp=self.last_timestamp,
                packet_count=self.packets & 0xFFFFFFFF,
                octet_count=self.octets & 0xFFFFFFFF,
            ),
        )

    def on_report(self, report: RtcpReceiverInfo) -> None:
        """A receiver report block about this stream (RFC 3550 6.4.1 round-trip time)."""
        self.packets_lost = report.packets_lost
        self.fraction_lost = report.fraction_lost / 256.0
        self.reports += 1
        if report.lsr == self._lsr and report.dlsr:
            rtt = time.time() - self._lsr_time - report.dlsr / 65536
            if rtt >= 0:
                self.rtt_last = rtt
                self.rtt = rtt if self.rtt is None else 0.85 * self.rtt + 0.15 * rtt


def send_sender_reports(
    downlink: Downlink,
    outputs: list[SlotOutput],
    cname: str,
    receivers: Sequence[RTCRtpReceiver] = (),
) -> bool:
    """One compound RTCP packet for one peer: an SR per active stream we send it, an RR about
    what it sends us (`receivers`, whose own report loops `tap_receiver(reports=True)` stilled),
    and SDES; False if there is nothing to report.

    Replaces one aiortc task and timer per sender and per receiver with one datagram per peer
    per round, as a browser sends them.
    """
    if not downlink.ready:
        return False
    now = time.time()
    senders = [r for r in (o.sender_report(now) for o in outputs) if r is not None]
    blocks: list[RtcpReceiverInfo] = []
    rtcp_ssrc = None
    for receiver in receivers:
        blocks.extend(receiver_report_blocks(receiver, now))
        rtcp_ssrc = rtcp_ssrc or receiver_rtcp_ssrc(receiver)
    packets: list[Any] = list(senders)
    if blocks and rtcp_ssrc is not None:
        for start in range(0, len(blocks), MAX_REPORT_BLOCKS):
            chunk = blocks[start : start + MAX_REPORT_BLOCKS]
            packets.append(RtcpRrPacket(ssrc=rtcp_ssrc, reports=chunk))
    if not packets:
        return False
    items = [(1, cname.encode())]
    ssrcs = [r.ssrc for r in senders] or [rtcp_ssrc or 0]
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=ssrc, items=items) for ssrc in ssrcs])
    compound = b"".join(bytes(p) for p in packets) + bytes(sdes)
    return downlink.send(downlink.protect_rtcp(compound))


def on_sender_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` when the remote asks `sender` for a keyframe (PLI/FIR).

    For the synthetic publisher: aiortc only sets a flag that its pack path ignores. Other
    RTCP still reaches aiortc (NACK retransmission, round-trip time).
    """
    target: Any = sender
    original = target._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            callback()
        await original(packet)

    target._handle_rtcp_packet = handle_rtcp_packet
