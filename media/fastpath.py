"""The one seam between our forwarding and the internals of aiortc, aioice and pylibsrtp.

Everything here reads or replaces private fields of aiortc 1.16.0, aioice 0.13.0 and
pylibsrtp 1.0.0 (pinned exactly in pyproject.toml). `missing_internals()` lists what this
module relies on; tests/media/test_fastpath.py fails loudly when an upgrade moves any of it.

What the fast path does, and why:
- publisher side (`tap_receiver`): aiortc's receiver depayloads, reassembles frames in a
  jitter buffer and decodes them on a thread. We keep what keeps the publisher healthy
  (RTCP receiver statistics, NACK generation, REMB, RTX unwrapping) and hand every RTP packet
  to the forwarder instead; the decoder thread is stopped as soon as it starts.
- subscriber side (`SlotOutput`, `Downlink`): a forwarded packet is protected with the
  subscriber's SRTP session and written synchronously to the nominated ICE pair's UDP socket:
  no task, no await, no per-packet queue. The sender's sender-report counters are kept
  current so aiortc's own RTCP loop sends consistent SRs.
- `tap_sender`: PLI/FIR and NACK from a subscriber go to the forwarder (keyframe request to
  the source, retransmission from our history) instead of aiortc's encoder-side handling.

Only the event-loop thread may touch SRTP sessions (libsrtp is not thread-safe).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import pylibsrtp
from aioice.ice import CandidatePair, Connection, StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

logger = logging.getLogger(__name__)

PINNED_VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}
NTP_EPOCH_OFFSET = 2208988800  # aiortc's millisecond clock counts from 1900
_SYNC_HANDLER = "_interviewday_handle_rtp"  # our synchronous handler, set on a tapped receiver

_RECEIVER_FIELDS = (
    "_RTCRtpReceiver__codecs",
    "_RTCRtpReceiver__remote_streams",
    "_RTCRtpReceiver__rtx_ssrc",
    "_RTCRtpReceiver__nack_generator",
    "_RTCRtpReceiver__remote_bitrate_estimator",
    "_RTCRtpReceiver__rtcp_ssrc",
    "_RTCRtpReceiver__decoder_thread",
    "_enabled",
)
_RECEIVER_METHODS = (
    "_handle_rtp_packet",
    "_send_rtcp",
    "_send_rtcp_nack",
    "_send_rtcp_pli",
    "_RTCRtpReceiver__stop_decoder",
    "receive",
)
_SENDER_FIELDS = (
    "_ssrc",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtt",
    "_RTCRtpSender__encoder",
)
_SENDER_METHODS = ("_handle_rtcp_packet",)
_TRANSCEIVER_FIELDS = ("_codecs", "_headerExtensions", "_offerDirection")
_DTLS_FIELDS = (
    "_tx_srtp",
    "_rx_srtp",
    "_state",
    "_transport",
    "_rtp_router",
    "_rtp_header_extensions_map",
)
_CONNECTION_FIELDS = ("_nominated", "data_received")
_STREAM_STATS_FIELDS = ("packets_received", "packets_expected", "packets_lost", "max_seq")


async def missing_internals() -> list[str]:
    """Private fields and versions this module relies on that are absent (empty when safe).

    Builds a throwaway peer connection (no network I/O) and closes it.
    """
    missing: list[str] = []
    for package, version in PINNED_VERSIONS.items():
        found = importlib.metadata.version(package)
        if found != version:
            missing.append(f"{package}=={version} (found {found})")

    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="sendrecv")
    checks: list[tuple[str, object, tuple[str, ...]]] = [
        ("RTCRtpReceiver", transceiver.receiver, _RECEIVER_FIELDS + _RECEIVER_METHODS),
        ("RTCRtpSender", transceiver.sender, _SENDER_FIELDS + _SENDER_METHODS),
        ("RTCRtpTransceiver", transceiver, _TRANSCEIVER_FIELDS),
        ("RTCDtlsTransport", transceiver.sender.transport, _DTLS_FIELDS),
    ]
    connection = transceiver.sender.transport.transport._connection
    checks.append(("aioice.Connection", connection, _CONNECTION_FIELDS))
    checks.append(("RtpRouter", transceiver.sender.transport._rtp_router, ("route_rtp",)))
    stream = StreamStatistics(90000)
    stream.add(RtpPacket(sequence_number=1))
    checks.append(("StreamStatistics", stream, _STREAM_STATS_FIELDS))
    for name, obj, fields in checks:
        missing.extend(f"{name}.{f}" for f in fields if not hasattr(obj, f))
    if not isinstance(getattr(CandidatePair, "remote_addr", None), property):
        missing.append("CandidatePair.remote_addr")
    if "transport" not in getattr(StunProtocol, "__annotations__", {}):
        missing.append("StunProtocol.transport")
    if not hasattr(StunProtocol, "send_data"):
        missing.append("StunProtocol.send_data")
    session = pylibsrtp.Session()
    checks.append(("pylibsrtp.Session", session, ("_srtp", "_cdata", "_buffer")))
    checks.append(("pylibsrtp", pylibsrtp, ("_srtp_assert", "SRTP_MAX_TRAILER_LEN")))
    if State.CONNECTED.name != "CONNECTED":
        missing.append("aiortc.rtcdtlstransport.State.CONNECTED")
    await pc.close()
    return missing


def restrict_codecs(transceiver: RTCRtpTransceiver, mime_type: str) -> int:
    """Keep only `mime_type` (and its RTX) among the negotiated codecs; return its payload type.

    Called between setRemoteDescription and createAnswer, so the answer offers exactly one
    codec per kind: every publisher then sends what every subscriber slot can receive, and the
    forwarder never has to translate anything but the payload type number.
    """
    codecs = transceiver._codecs
    base: Any = next((c for c in codecs if c.mimeType.lower() == mime_type.lower()), None)
    if base is None:
        raise ValueError(f"offer has no {mime_type} on mid {transceiver.mid}")
    kept = [base]
    kept.extend(c for c in codecs if is_rtx(c) and c.parameters.get("apt") == base.payloadType)
    transceiver._codecs = kept
    return int(base.payloadType)


def offered_direction(transceiver: RTCRtpTransceiver) -> str | None:
    """The direction the remote offer asks of us for this transceiver ("sendonly" = a slot)."""
    direction: str | None = transceiver._offerDirection
    return direction


def header_extension_ids(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    """Negotiated header extension URI -> id for this m-line."""
    return {ext.uri: int(ext.id) for ext in transceiver._headerExtensions}


def tap_receiver(
    rtp_receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket], None], remb: bool = True
) -> None:
    """Route the receiver's RTP packets to `on_packet`, keeping RTCP health, skipping decode.

    `remb=False` skips aiortc's receive-side bandwidth estimator (the costliest step per
    packet): for bots, whose REMB the SFU drops anyway.
    """
    receiver: Any = rtp_receiver
    codecs: dict[int, Any] = receiver._RTCRtpReceiver__codecs
    streams: dict[int, StreamStatistics] = receiver._RTCRtpReceiver__remote_streams
    rtx_ssrc: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc
    nack = receiver._RTCRtpReceiver__nack_generator
    estimator = receiver._RTCRtpReceiver__remote_bitrate_estimator if remb else None

    def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not receiver._enabled:
            return
        if estimator is not None and packet.extensions.abs_send_time is not None:
            remb = estimator.add(
                abs_send_time=packet.extensions.abs_send_time,
                arrival_time_ms=arrival_time_ms,
                payload_size=len(packet.payload) + packet.padding_size,
                ssrc=packet.ssrc,
            )
            rtcp_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc
            if rtcp_ssrc is not None and remb is not None:
                remb_packet = RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                )
                _spawn(receiver._send_rtcp(remb_packet))
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)
        if is_rtx(codec):
            original_ssrc = rtx_ssrc.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if original_ssrc is None or len(packet.payload) < 2 or apt not in codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
        if nack is not None and nack.add(packet):
            _spawn(receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing)))
        on_packet(packet)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        handle(packet, arrival_time_ms)

    original_receive = receiver.receive

    async def receive(parameters: Any) -> None:
        await original_receive(parameters)
        # Nothing ever reaches the decoder queue: end the idle thread at once.
        receiver._RTCRtpReceiver__stop_decoder()

    receiver._handle_rtp_packet = handle_rtp_packet
    receiver.receive = receive
    setattr(receiver, _SYNC_HANDLER, handle)


def receiver_loss(receiver: RTCRtpReceiver) -> tuple[int, int]:
    """(packets expected, packets lost) over the receiver's lifetime, all SSRCs."""
    expected = lost = 0
    target: Any = receiver
    streams: dict[int, StreamStatistics] = target._RTCRtpReceiver__remote_streams
    for stream in streams.values():
        if stream.max_seq is not None:
            expected += stream.packets_expected
            lost += max(0, stream.packets_lost)
    return expected, lost


def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI to the publisher of `media_ssrc` (fire and forget)."""
    _spawn(receiver._send_rtcp_pli(media_ssrc))


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(coro)
    task.add_done_callback(_log_task_error)


def _log_task_error(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("RTCP send failed: %r", task.exception())


def srtp_processor(
    session: pylibsrtp.Session, protect: bool = True, rtcp: bool = False
) -> Callable[[bytes], bytes]:
    """A direct libsrtp protect/unprotect for `session`, without pylibsrtp's per-call setup.

    pylibsrtp allocates an `int *` and re-checks its arguments on every call; this keeps one
    and works in the session's own 1500-byte buffer like pylibsrtp does (so aiortc's calls on
    the same session stay valid: every call copies its result out before returning).
    """
    target: Any = session
    if protect:
        func = _srtp_lib.srtp_protect_rtcp if rtcp else _srtp_lib.srtp_protect
        trailer = pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN if rtcp else pylibsrtp.SRTP_MAX_TRAILER_LEN
    else:
        func = _srtp_lib.srtp_unprotect_rtcp if rtcp else _srtp_lib.srtp_unprotect
        trailer = 0
    srtp = target._srtp[0]
    cdata = target._cdata
    buffer = target._buffer
    limit = len(cdata) - trailer
    length = _srtp_ffi.new("int *")
    check: Any = pylibsrtp._srtp_assert

    def process(data: bytes) -> bytes:
        n = len(data)
        if n > limit:
            raise ValueError("packet is too long")
        buffer[0:n] = data
        length[0] = n
        rc = func(srtp, cdata, length)
        if rc:
            check(rc)
        result: bytes = buffer[0 : length[0]]
        return result

    return process


def fast_receive(pc: RTCPeerConnection) -> None:
    """Handle incoming SRTP media in the datagram callback itself.

    aiortc queues every datagram and wakes the DTLS task for it; for RTP we unprotect,
    parse and hand the packet to a tapped receiver right where aioice received it. RTCP,
    DTLS and STUN keep aiortc's path. Call once the transceivers exist (max-bundle: one
    transport). The transport's own rx counters no longer see media packets.
    """
    dtls: Any = pc.getTransceivers()[0].receiver.transport
    connection: Any = dtls.transport._connection
    original = connection.data_received
    router = dtls._rtp_router
    extensions_map = dtls._rtp_header_extensions_map
    parse = RtpPacket.parse
    now = time.time

    unprotect: Callable[[bytes], bytes] | None = None

    def data_received(data: bytes, component: int) -> None:
        nonlocal unprotect
        if len(data) < 12 or not 127 < data[0] < 192 or 191 < data[1] < 209:
            original(data, component)  # DTLS / STUN / RTCP
            return
        if unprotect is None:
            if dtls._rx_srtp is None:
                original(data, component)  # not keyed yet
                return
            unprotect = srtp_processor(dtls._rx_srtp, protect=False)
        try:
            packet = parse(unprotect(data), extensions_map)
        except (pylibsrtp.Error, ValueError):
            return
        receiver = router.route_rtp(packet)
        if receiver is None:
            return
        arrival_ms = int((now() + NTP_EPOCH_OFFSET) * 1000)  # aiortc's clock.current_ms()
        handler = getattr(receiver, _SYNC_HANDLER, None)
        if handler is not None:
            handler(packet, arrival_ms)
        else:
            _spawn(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_ms))

    connection.data_received = data_received


def tap_sender(
    sender: RTCRtpSender,
    on_keyframe_request: Callable[[], None],
    on_nack: Callable[[list[int]], None] | None = None,
    on_report: Callable[[int, float], None] | None = None,
) -> None:
    """Intercept RTCP addressed to `sender`.

    PLI/FIR -> `on_keyframe_request`; NACK -> `on_nack(lost seqs)` when given (else aiortc
    retransmits from its own history); receiver reports reach aiortc (round-trip time) and
    `on_report(cumulative lost, fraction lost)`. REMB is dropped: a forwarded stream has no
    encoder whose bitrate we could set.
    """
    target: Any = sender
    original = target._handle_rtcp_packet
    ssrc = target._ssrc

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                on_keyframe_request()
            return
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            if on_nack is not None:
                on_nack(list(packet.lost))
                return
        elif isinstance(packet, RtcpRrPacket | RtcpSrPacket) and on_report is not None:
            for report in packet.reports:
                if report.ssrc == ssrc:
                    on_report(report.packets_lost, report.fraction_lost / 256.0)
        await original(packet)

    target._handle_rtcp_packet = handle_rtcp_packet


def sender_rtt(sender: RTCRtpSender) -> float | None:
    """Smoothed round-trip time aiortc computed from the subscriber's receiver reports."""
    target: Any = sender
    rtt: float | None = target._RTCRtpSender__rtt
    return rtt


def sender_has_encoder(sender: RTCRtpSender) -> bool:
    """Whether aiortc created an encoder (or packetizer) for this sender: never on a slot."""
    target: Any = sender
    return target._RTCRtpSender__encoder is not None


class Downlink:
    """Writes SRTP datagrams to one peer's nominated ICE pair without awaiting.

    On a host/server-reflexive pair the datagram goes straight to (a duplicate of) the pair's
    non-blocking UDP socket; when the kernel's send buffer is full the datagram is dropped: a
    slow or blocked subscriber costs nothing and delays nobody, and nothing queues in Python.
    On a TURN pair sends need a coroutine: they go through a bounded queue drained by one
    task, oldest dropped when full.
    """

    __slots__ = (
        "_addr",
        "_connection",
        "_drain_task",
        "_dtls",
        "_pair",
        "_protect",
        "_queue",
        "_sock",
        "_wakeup",
        "dropped",
        "sent",
    )

    def __init__(self, dtls: RTCDtlsTransport, max_queue: int = 256) -> None:
        self._dtls: Any = dtls
        self._connection: Connection = self._dtls.transport._connection
        self._pair: CandidatePair | None = None
        self._sock: socket.socket | None = None
        self._addr: tuple[str, int] = ("", 0)
        self._protect: Callable[[bytes], bytes] | None = None
        self._queue: deque[bytes] = deque(maxlen=max_queue)
        self._wakeup: asyncio.Event | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    @property
    def ready(self) -> bool:
        """DTLS is up, so SRTP keys exist."""
        return self._dtls._state is State.CONNECTED and self._dtls._tx_srtp is not None

    def protect(self, plain: bytes) -> bytes:
        protect = self._protect
        if protect is None:
            protect = self._protect = srtp_processor(self._dtls._tx_srtp)
        return protect(plain)

    def send(self, data: bytes) -> bool:
        pair = self._connection._nominated.get(1)
        if pair is not self._pair:
            if pair is None:
                self.dropped += 1
                return False
            self._select(pair)
        sock = self._sock
        if sock is not None:
            try:
                sock.sendto(data, self._addr)
            except OSError:  # BlockingIOError: send buffer full; others: network gone
                self.dropped += 1
                return False
            self.sent += 1
            return True
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(data)
        if self._wakeup is not None:
            self._wakeup.set()
        return True

    def queued(self) -> int:
        return len(self._queue)

    def _select(self, pair: CandidatePair) -> None:
        self._close_socket()
        self._pair = pair
        self._addr = pair.remote_addr
        protocol = pair.protocol
        if type(protocol) is StunProtocol:
            self._sock = protocol.transport.get_extra_info("socket").dup()
            self._sock.setblocking(False)
        elif self._drain_task is None:
            self._wakeup = asyncio.Event()
            self._drain_task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                data = self._queue.popleft()
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
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self._close_socket()
        self._pair = None
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None
        self._queue.clear()


class SlotOutput:
    """One outgoing RTP stream (a subscriber's receive slot): SRTP, send, SR counters, history.

    The history keeps the protected datagrams of the last `history` packets, so a NACK is
    answered by re-sending the exact bytes: no second protect, which libsrtp would refuse as
    a replay.
    """

    __slots__ = ("_downlink", "_hist_data", "_hist_seq", "_mask", "_sender", "ssrc")

    def __init__(self, sender: RTCRtpSender, downlink: Downlink, history: int = 0) -> None:
        self._sender: Any = sender
        self._downlink = downlink
        self.ssrc: int = sender._ssrc
        size = 1
        while size < history:
            size <<= 1
        self._mask = size - 1 if history else -1
        self._hist_seq: list[int] = [-1] * size if history else []
        self._hist_data: list[bytes] = [b""] * size if history else []

    @property
    def ready(self) -> bool:
        return self._downlink.ready

    @property
    def sender(self) -> RTCRtpSender:
        result: RTCRtpSender = self._sender
        return result

    def send(self, plain: bytes, seq: int, timestamp: int, ntp: int, payload_size: int) -> bool:
        """Protect and send one RTP packet; False if it could not go out."""
        downlink = self._downlink
        if not downlink.ready:
            return False
        data = downlink.protect(plain)
        mask = self._mask
        if mask >= 0:
            i = seq & mask
            self._hist_seq[i] = seq
            self._hist_data[i] = data
        sender = self._sender
        sender._RTCRtpSender__packet_count += 1
        sender._RTCRtpSender__octet_count += payload_size
        sender._RTCRtpSender__rtp_timestamp = timestamp
        sender._RTCRtpSender__ntp_timestamp = ntp
        return downlink.send(data)

    def retransmit(self, seq: int) -> bool:
        mask = self._mask
        if mask < 0 or self._hist_seq[seq & mask] != seq:
            return False
        return self._downlink.send(self._hist_data[seq & mask])


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
