"""A lean RTP packet parse for the forwarding path.

aiortc's `RtpPacket.parse` builds a full header-extension object for every packet (about
7 µs here). The forwarder needs the fixed header, the payload and at most two extensions
(abs-send-time for the bandwidth estimate, the audio level to pass on), so this parser reads
just those. The result duck-types as aiortc's `RtpPacket` for everything the receive path
touches (routing, RTCP statistics, NACK, RTX unwrapping).
"""

from __future__ import annotations

import struct

_FIXED = struct.Struct("!BBHII")


class Extensions:
    __slots__ = ("abs_send_time", "audio_level", "mid", "repaired_rid", "rid")

    def __init__(self) -> None:
        self.abs_send_time: int | None = None
        self.audio_level: tuple[bool, int] | None = None
        self.mid: str | None = None
        self.rid: str | None = None
        """Simulcast layer name (RFC 8852 rtp-stream-id): only on a layer's first packets."""
        self.repaired_rid: str | None = None
        """The layer an RTX packet repairs (repaired-rtp-stream-id)."""


class Packet:
    __slots__ = (
        "csrc",
        "extensions",
        "marker",
        "padding_size",
        "payload",
        "payload_type",
        "sequence_number",
        "ssrc",
        "timestamp",
    )

    def __init__(
        self,
        payload_type: int,
        marker: int,
        sequence_number: int,
        timestamp: int,
        ssrc: int,
        payload: bytes,
        padding_size: int,
        extensions: Extensions,
    ) -> None:
        self.payload_type = payload_type
        self.marker = marker
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.padding_size = padding_size
        self.extensions = extensions
        self.csrc: list[int] = []


def parse_rtp(
    data: bytes,
    abs_send_time_id: int = 0,
    audio_level_id: int = 0,
    rid_id: int = 0,
    repaired_rid_id: int = 0,
) -> Packet:
    """Parse one RTP packet; only the given extension ids are decoded (0 = none).

    Raises ValueError on a malformed packet, like aiortc.
    """
    if len(data) < 12:
        raise ValueError("RTP packet length is less than 12 bytes")
    first, second, seq, ts, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != 2:
        raise ValueError("RTP packet has invalid version")
    pos = 12 + 4 * (first & 0x0F)
    extensions = Extensions()
    if first & 0x10:
        if len(data) < pos + 4:
            raise ValueError("RTP packet has truncated extension profile / length")
        profile = (data[pos] << 8) | data[pos + 1]
        end = pos + 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
        if len(data) < end:
            raise ValueError("RTP packet has truncated extension value")
        pos += 4
        if profile == 0xBEDE and (abs_send_time_id or audio_level_id or rid_id):
            while pos < end:
                head = data[pos]
                if head == 0:  # padding between elements
                    pos += 1
                    continue
                ext_id = head >> 4
                if ext_id == 15:
                    break
                size = (head & 0x0F) + 1
                pos += 1
                if ext_id == abs_send_time_id and size == 3:
                    extensions.abs_send_time = int.from_bytes(data[pos : pos + 3], "big")
                elif ext_id == audio_level_id and size >= 1:
                    level = data[pos]
                    extensions.audio_level = (level & 0x80 == 0x80, level & 0x7F)
                elif ext_id == rid_id:
                    extensions.rid = _ascii(data[pos : pos + size])
                elif ext_id == repaired_rid_id:
                    extensions.repaired_rid = _ascii(data[pos : pos + size])
                pos += size
        pos = end
    padding = 0
    if first & 0x20:
        padding = data[-1]
        if not padding or padding > len(data) - pos:
            raise ValueError("RTP packet padding length is invalid")
        payload = data[pos:-padding]
    else:
        payload = data[pos:]
    return Packet(second & 0x7F, second >> 7, seq, ts, ssrc, payload, padding, extensions)


def _ascii(value: bytes) -> str | None:
    """A stream id as text; anything but printable ASCII is no id (never trusted as text)."""
    text = value.rstrip(b"\x00")
    if not text or not all(32 < b < 127 for b in text):
        return None
    return text.decode("ascii")
