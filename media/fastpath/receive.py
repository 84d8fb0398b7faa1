"""Publisher side of the fast path: tap aiortc receivers, receive SRTP in the socket callback.

Private fields of aiortc 1.16 / aioice 0.13 / pylibsrtp 1.0: see `media.fastpath`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtpPacket,
    pack_remb_fci,
    unwrap_rtx,
)
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

from ..packet import parse_rtp
from ._datapath import ReceiverCore, SocketReader, SourceCore, StatsCore
from .reports import REPORTS, still_report_loop

logger = logging.getLogger(__name__)

NTP_EPOCH_OFFSET = 2208988800  # aiortc's millisecond clock counts from 1900
SYNC_HANDLER = "_interviewday_handle_rtp"  # our synchronous handler, set on a tapped receiver
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
CORE = "_interviewday_receiver_core"  # our ReceiverCore, set on the DTLS transport
RECEIVE_BUFFER = 1 << 20


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


RESILIENT_OPUS = {"minptime": 10, "useinbandfec": 1, "usedtx": 1}
"""What the answer asks of every publisher's Opus encoder: in-band forward error correction
(a lost packet is rebuilt from the next), and discontinuous transmission (near silence costs
almost nothing), so audio survives a lossy or narrow link better than video does."""


def ask_resilient_opus(transceiver: RTCRtpTransceiver) -> None:
    """Put RESILIENT_OPUS on the negotiated Opus codec (after `restrict_codecs`): the answer's
    fmtp carries it."""
    for codec in transceiver._codecs:
        if codec.mimeType.lower() == "audio/opus":
            codec.parameters = {**codec.parameters, **RESILIENT_OPUS}


def negotiated_payload_type(transceiver: RTCRtpTransceiver) -> int:
    """Payload type of the first negotiated codec (what aiortc's sender would send)."""
    codec: Any = transceiver._codecs[0]
    return int(codec.payloadType)


def offered_direction(transceiver: RTCRtpTransceiver) -> str | None:
    """The direction the remote offer asks of us for this transceiver ("sendonly" = a slot)."""
    direction: str | None = transceiver._offerDirection
    return direction


def header_extension_ids(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    """Negotiated header extension URI -> id for this m-line."""
    return {ext.uri: int(ext.id) for ext in transceiver._headerExtensions}


class FastRateCounter:
    """aiortc's `RateCounter` (bytes over a sliding window) without 1 ms buckets.

    aiortc's version walks one bucket per elapsed millisecond on every packet: ~15 µs a
    packet at video rates, the single most expensive step of the receive path. This keeps
    the samples in a deque instead; same results for non-decreasing times.
    """

    __slots__ = ("_count", "_origin_ms", "_samples", "_scale", "_value", "_window_size")

    def __init__(self, window_size: int, scale: int = 8000) -> None:
        self._window_size = window_size
        self._scale = scale
        self._samples: deque[tuple[int, int]] = deque()
        self._origin_ms: int | None = None
        self._count = 0
        self._value = 0

    def add(self, value: int, now_ms: int) -> None:
        if self._origin_ms is None:
            self._origin_ms = now_ms
        else:
            self._erase_old(now_ms)
        self._samples.append((now_ms, value))
        self._count += 1
        self._value += value

    def rate(self, now_ms: int) -> int | None:
        if self._origin_ms is not None:
            self._erase_old(now_ms)
            active_window_size = now_ms - self._origin_ms + 1
            if self._count > 0 and active_window_size > 1:
                return round(self._scale * self._value / active_window_size)
        return None

    def reset(self) -> None:
        self._samples.clear()
        self._origin_ms = None
        self._count = 0
        self._value = 0

    def _erase_old(self, now_ms: int) -> None:
        assert self._origin_ms is not None
        new_origin_ms = now_ms - self._window_size + 1
        if self._origin_ms < new_origin_ms:
            samples = self._samples
            while samples and samples[0][0] < new_origin_ms:
                self._value -= samples.popleft()[1]
                self._count -= 1
            self._origin_ms = new_origin_ms


class RembPacer:
    """When to send a REMB: aiortc's estimator emits one per packet while it sees overuse.

    Send at most every `interval_ms`, except a drop of 10% or more, which goes out at once:
    the publisher must back off quickly, raising can wait.
    """

    __slots__ = ("_interval_ms", "_last_bitrate", "_last_ms")

    def __init__(self, interval_ms: int = 200) -> None:
        self._interval_ms = interval_ms
        self._last_ms = -(1 << 62)
        self._last_bitrate = 0

    def __call__(self, bitrate: int, now_ms: int) -> bool:
        if now_ms - self._last_ms < self._interval_ms and bitrate > 0.9 * self._last_bitrate:
            return False
        self._last_ms = now_ms
        self._last_bitrate = bitrate
        return True


def tap_receiver(
    rtp_receiver: RTCRtpReceiver,
    on_packet: Callable[[RtpPacket], None],
    remb: bool = True,
    reports: bool = False,
) -> None:
    """Route the receiver's RTP packets to `on_packet`, keeping RTCP health, skipping decode.

    `remb=False` skips aiortc's receive-side bandwidth estimator (the costliest step per
    packet): for publishers that negotiated transport-cc, and bots. `reports=True`: the
    caller sends this receiver's reports itself (`send_sender_reports(receivers=...)`, one
    compound per peer), so aiortc's own loop (a task and a timer per receiver) is stilled.
    """
    receiver: Any = rtp_receiver
    if reports:
        still_report_loop(receiver)
    codecs: dict[int, Any] = receiver._RTCRtpReceiver__codecs
    streams: dict[int, Any] = receiver._RTCRtpReceiver__remote_streams
    rtx_ssrc: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc
    nack = receiver._RTCRtpReceiver__nack_generator
    estimator = receiver._RTCRtpReceiver__remote_bitrate_estimator if remb else None
    if estimator is not None:
        estimator.incoming_bitrate = FastRateCounter(1000, 8000)  # aiortc's arguments

    rtx_types: dict[int, bool] = {}
    remb_due = RembPacer()
    # Simulcast: each layer is its own SSRC (aiortc's NACK generator follows one stream), and
    # its RTX stream is tied to it by the repaired-rtp-stream-id, not by the SDP.
    nacks: dict[int, NackGenerator] = {}
    ssrc_by_rid: dict[str, int] = {}
    repaired_ssrc: dict[int, int] = {}

    source = getattr(on_packet, "__self__", None)
    if not isinstance(source, SourceCore):
        source = None  # a bot's counter: always the Python path

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
            if rtcp_ssrc is not None and remb is not None and remb_due(remb[0], arrival_time_ms):
                remb_packet = RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                )
                _spawn(receiver._send_rtcp(remb_packet))
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StatsCore(codec.clockRate)
        stats.add(packet)
        rtx = rtx_types.get(packet.payload_type)
        if rtx is None:  # aiortc's is_rtx() lowercases a derived string: once per type
            rtx = rtx_types[packet.payload_type] = is_rtx(codec)
        if rtx:
            original_ssrc = rtx_ssrc.get(packet.ssrc) or repaired_ssrc.get(packet.ssrc)
            if original_ssrc is None:
                repaired = getattr(packet.extensions, "repaired_rid", None)
                original_ssrc = ssrc_by_rid.get(repaired) if repaired else None
                if original_ssrc is not None:
                    repaired_ssrc[packet.ssrc] = original_ssrc
            apt = codec.parameters.get("apt")
            if original_ssrc is None or len(packet.payload) < 2 or apt not in codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
        else:
            rid = getattr(packet.extensions, "rid", None)
            if rid is not None:
                ssrc_by_rid[rid] = packet.ssrc
        core: ReceiverCore | None = getattr(receiver.transport, CORE, None)
        route = core.route(packet.ssrc) if core is not None and not rtx else None
        generator = None
        if nack is not None:
            generator = nacks.get(packet.ssrc)
            if generator is None:
                generator = nacks[packet.ssrc] = nack if not nacks else NackGenerator()
            if route is not None:  # C forwarded the packets since: its newest is the newest
                generator.max_seq = route.max_seq
            if generator.add(packet):
                _spawn(receiver._send_rtcp_nack(packet.ssrc, sorted(generator.missing)))
        on_packet(packet)
        if core is None or rtx or estimator is not None or source is None:
            return  # REMB needs every packet in Python (aiortc's estimator)
        index = source.layer_of_ssrc.get(packet.ssrc)
        if index is not None and isinstance(stats, StatsCore):
            newest = generator.max_seq if generator is not None else None
            if newest is None:
                newest = packet.sequence_number
            core.add_route(packet.ssrc, source, index, stats, packet.payload_type, newest)

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        handle(packet, arrival_time_ms)

    original_receive = receiver.receive

    async def receive(parameters: Any) -> None:
        await original_receive(parameters)
        # Nothing ever reaches the decoder queue: end the idle thread at once.
        receiver._RTCRtpReceiver__stop_decoder()

    receiver._handle_rtp_packet = handle_rtp_packet
    receiver.receive = receive
    setattr(receiver, SYNC_HANDLER, handle)


def receiver_loss(receiver: RTCRtpReceiver) -> tuple[int, int]:
    """(packets expected, packets lost) over the receiver's lifetime, all SSRCs."""
    expected = lost = 0
    target: Any = receiver
    streams: dict[int, Any] = target._RTCRtpReceiver__remote_streams
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


def srtp_entry(
    session: pylibsrtp.Session, unprotect: bool = False
) -> tuple[int, int, pylibsrtp.Session, int]:
    """For the C data path (media/fastpath/_datapath.c), the same libsrtp and the same session
    aiortc keyed: (libsrtp's RTP protect or unprotect function, the session's context, the
    session, which the C side holds while it uses the context, the matching RTCP function)."""
    target: Any = session
    prefix = "srtp_unprotect" if unprotect else "srtp_protect"
    rtp, rtcp = (
        int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, name)))
        for name in (prefix, prefix + "_rtcp")
    )
    return rtp, int(_srtp_ffi.cast("uintptr_t", target._srtp[0])), session, rtcp


def fast_receive(
    pc: RTCPeerConnection, rid_ids: tuple[int, int] = (0, 0), transport_cc_id: int = 0
) -> ReceiverCore:
    """Handle incoming SRTP media in the datagram callback itself.

    aiortc tries to parse every datagram as STUN, queues it and wakes the DTLS task for it;
    for RTP we unprotect and parse in C (`ReceiverCore`) right where the socket delivered it.
    A packet of a stream with a route (see `tap_receiver`) is forwarded there and then; any
    other is parsed again (lean, `media.packet`) and handed to its tapped receiver. RTCP, DTLS
    and STUN keep aiortc's path. Call after setLocalDescription (max-bundle: one transport,
    candidates gathered). The transport's own rx counters no longer see media packets.
    `rid_ids`: the negotiated ids of the rtp-stream-id and repaired-rtp-stream-id extensions
    (simulcast; aiortc keeps neither); `transport_cc_id`: the transport-cc extension's id, whose
    sequence numbers the core records for feedback (`ReceiverCore.take_arrivals`).
    """
    dtls: Any = pc.getTransceivers()[0].receiver.transport
    connection: Any = dtls.transport._connection
    original = connection.data_received
    router = dtls._rtp_router
    transceivers = pc.getTransceivers()
    clock = time.time
    core = ReceiverCore()
    setattr(dtls, CORE, core)
    abs_send_time_id = audio_level_id = 0

    def key() -> bool:
        """Key the core once DTLS has (SRTP and SRTCP both: RTCP may come first)."""
        nonlocal abs_send_time_id, audio_level_id
        if dtls._rx_srtp is None:
            return False
        if not core.keyed:
            core.set_srtp(*srtp_entry(dtls._rx_srtp, unprotect=True))
            for transceiver in transceivers:  # one id space under bundle
                ids = header_extension_ids(transceiver)
                abs_send_time_id = abs_send_time_id or ids.get(ABS_SEND_TIME_URI, 0)
                audio_level_id = audio_level_id or ids.get(AUDIO_LEVEL_URI, 0)
            core.set_ids(audio_level_id, transport_cc_id)
        return True

    def on_dtls_state() -> None:
        if dtls._state is State.CONNECTED:
            key()
        else:
            core.clear_srtp()  # its context is going away with the transport

    dtls.on("statechange", on_dtls_state)

    def data_received(data: bytes, component: int) -> None:
        if len(data) < 12 or not 127 < data[0] < 192 or 191 < data[1] < 209:
            original(data, component)  # DTLS / STUN / RTCP
            return
        if not core.keyed and not key():
            original(data, component)  # not keyed yet
            return
        try:
            plain = core.datagram(data)
        except ValueError:
            return
        if plain is not None:  # else forwarded in C
            plain_received(plain)

    def plain_received(plain: bytes) -> None:
        try:
            packet = parse_rtp(plain, abs_send_time_id, audio_level_id, *rid_ids)
        except ValueError:
            return
        receiver = router.route_rtp(packet)
        if receiver is None:
            return
        arrival_ms = int((clock() + NTP_EPOCH_OFFSET) * 1000)  # aiortc's clock.current_ms()
        handler = getattr(receiver, SYNC_HANDLER, None)
        if handler is not None:
            handler(packet, arrival_ms)
        else:
            _spawn(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_ms))

    def rtcp_received(plain: bytes) -> None:
        """The peer's RTCP that C unprotected (its transport-cc feedback already taken):
        the periodic reports read here, anything else (NACK, PLI, REMB, BYE) through aiortc."""
        reader: Callable[[bytes], bytes] | None = getattr(dtls, REPORTS, None)
        rest = reader(plain) if reader is not None else plain
        if rest:
            _spawn(dtls._handle_rtcp_data(rest))

    connection.data_received = data_received
    # RTP and RTCP never look like STUN (first byte 128-191): skip aioice's STUN parse attempt.
    loop = asyncio.get_running_loop()
    for protocol in connection._protocols:
        if type(protocol) is StunProtocol:
            _grow_receive_buffer(protocol)
            target: Any = protocol
            target.datagram_received = _datagram_shortcut(
                protocol, data_received, protocol.local_candidate.component
            )
            # After the transport's own reader is in place (it adds it with call_soon).
            loop.call_soon(_read_in_c, loop, protocol, core, plain_received, rtcp_received)
    return core


def _read_in_c(
    loop: asyncio.AbstractEventLoop,
    protocol: StunProtocol,
    core: ReceiverCore,
    on_rtp: Callable[[bytes], None],
    on_rtcp: Callable[[bytes], None],
) -> None:
    """Replace the transport's one-datagram-per-wake-up reader with `SocketReader`.

    Only on asyncio's selector loop (what `serve` runs), and only while the transport is
    open; its `close()` removes our reader like its own.
    """
    transport: Any = protocol.transport
    if transport is None or transport.is_closing() or not hasattr(loop, "_add_reader"):
        return
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    reader = SocketReader(
        sock.fileno(), core, on_rtp, protocol.datagram_received, protocol.error_received, on_rtcp
    )
    selector_loop: Any = loop
    selector_loop._add_reader(sock.fileno(), reader.readable)


def _grow_receive_buffer(protocol: StunProtocol, size: int = RECEIVE_BUFFER) -> None:
    """Room for keyframe bursts from several publishers at once (the default is ~200 KB).

    Best effort: the kernel caps it at net.core.rmem_max.
    """
    with contextlib.suppress(OSError, AttributeError):
        protocol.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, size
        )


def _datagram_shortcut(
    protocol: StunProtocol, data_received: Callable[[bytes, int], None], component: int
) -> Callable[[bytes, Any], None]:
    original = protocol.datagram_received

    def datagram_received(data: bytes, addr: Any) -> None:
        if data and 127 < data[0] < 192:
            data_received(data, component)
        else:
            original(data, addr)

    return datagram_received
