"""The one seam between our forwarding and the internals of aiortc, aioice and pylibsrtp.

Everything in this package (and nothing else in `media`) reads or replaces private fields of
aiortc 1.16.0, aioice 0.13.0 and pylibsrtp 1.0.0 (pinned exactly in pyproject.toml):
`receive.py` is the publisher side, `send.py` the subscriber side. `missing_internals()`
lists what they rely on; tests/media/test_fastpath.py fails loudly when an upgrade moves any
of it.

What the fast path does, and why:
- publisher side (`tap_receiver`, `fast_receive`): aiortc's receiver depayloads,
  reassembles frames in a jitter buffer and decodes them on a thread. We keep what keeps the
  publisher healthy (RTCP receiver statistics, NACK generation, REMB, RTX unwrapping) and
  hand every RTP packet to the forwarder instead, straight from the socket callback; the
  decoder thread is stopped as soon as it starts.
- subscriber side (`SlotOutput`, `Downlink`): a forwarded packet is protected with the
  subscriber's SRTP session and written synchronously to the nominated ICE pair's UDP socket:
  no task, no await, no per-packet queue. aiortc's senders are detached (no send or RTCP
  task each); `send_sender_reports` sends all of a peer's SRs in one compound packet.
- `tap_sender`: PLI/FIR and NACK from a subscriber go to the forwarder (keyframe request to
  the source, retransmission from our history) instead of aiortc's encoder-side handling.

Only the event-loop thread may touch SRTP sessions (libsrtp is not thread-safe).
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pylibsrtp
from aioice.ice import CandidatePair, StunProtocol
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket

from ._datapath import ReceiverCore
from .receive import (
    ask_resilient_opus,
    fast_receive,
    header_extension_ids,
    negotiated_payload_type,
    offered_direction,
    receiver_loss,
    request_keyframe,
    restrict_codecs,
    srtp_entry,
    srtp_processor,
    tap_receiver,
)
from .reports import ReportReader, read_reports, send_transport_feedback, tap_transport_feedback
from .send import (
    Downlink,
    SlotOutput,
    detach_sender,
    on_sender_keyframe_request,
    send_sender_reports,
    sender_has_encoder,
    set_stream_id,
    tap_sender,
)

__all__ = [
    "PINNED_VERSIONS",
    "Downlink",
    "ReceiverCore",
    "ReportReader",
    "SlotOutput",
    "ask_resilient_opus",
    "detach_sender",
    "fast_receive",
    "header_extension_ids",
    "missing_internals",
    "negotiated_payload_type",
    "offered_direction",
    "on_sender_keyframe_request",
    "read_reports",
    "receiver_loss",
    "request_keyframe",
    "restrict_codecs",
    "send_sender_reports",
    "send_transport_feedback",
    "sender_has_encoder",
    "set_stream_id",
    "srtp_entry",
    "srtp_processor",
    "tap_receiver",
    "tap_sender",
    "tap_transport_feedback",
]

PINNED_VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}

_RECEIVER_FIELDS = (
    "_RTCRtpReceiver__rtcp_started",
    "_RTCRtpReceiver__rtcp_exited",
    "_RTCRtpReceiver__lsr",
    "_RTCRtpReceiver__lsr_time",
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
    "_run_rtcp",
    "_handle_rtp_packet",
    "_send_rtcp",
    "_send_rtcp_nack",
    "_send_rtcp_pli",
    "_RTCRtpReceiver__stop_decoder",
    "receive",
)
_SENDER_FIELDS = ("_ssrc", "_stream_id", "_RTCRtpSender__encoder")
_SENDER_METHODS = ("_handle_rtcp_packet", "send")
_TRANSCEIVER_FIELDS = ("_codecs", "_headerExtensions", "_offerDirection")
_DTLS_FIELDS = (
    "_register_rtp_sender",
    "_tx_srtp",
    "_rx_srtp",
    "_state",
    "_transport",
    "_rtp_router",
    "_rtp_header_extensions_map",
)
_CONNECTION_FIELDS = ("_nominated", "_protocols", "data_received")
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
    receiver: Any = transceiver.receiver
    estimator = getattr(receiver, "_RTCRtpReceiver__remote_bitrate_estimator", None)
    checks.append(("RemoteBitrateEstimator", estimator, ("incoming_bitrate",)))
    counter = getattr(estimator, "incoming_bitrate", None)
    checks.append(("RateCounter", counter, ("add", "rate", "reset")))
    stream = StreamStatistics(90000)
    stream.add(RtpPacket(sequence_number=1))
    checks.append(("StreamStatistics", stream, _STREAM_STATS_FIELDS))
    for name, obj, fields in checks:
        missing.extend(f"{name}.{f}" for f in fields if not hasattr(obj, f))
    if not isinstance(getattr(CandidatePair, "remote_addr", None), property):
        missing.append("CandidatePair.remote_addr")
    if "transport" not in getattr(StunProtocol, "__annotations__", {}):
        missing.append("StunProtocol.transport")
    for method in ("send_data", "datagram_received"):
        if not hasattr(StunProtocol, method):
            missing.append(f"StunProtocol.{method}")
    session = pylibsrtp.Session()
    checks.append(("pylibsrtp.Session", session, ("_srtp", "_cdata", "_buffer")))
    checks.append(("pylibsrtp", pylibsrtp, ("_srtp_assert", "SRTP_MAX_TRAILER_LEN")))
    if State.CONNECTED.name != "CONNECTED":
        missing.append("aiortc.rtcdtlstransport.State.CONNECTED")
    await pc.close()
    return missing
