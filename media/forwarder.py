"""RTP forwarding: a published stream (`Source`) feeds receive slots (`OutSlot`) unchanged.

Nothing here decodes or encodes. Per packet and per subscriber only the RTP header is
rebuilt (SSRC, sequence number, timestamp, payload type and the slot's own header
extensions); the payload bytes go out as they came in.

Switching a slot to another source follows "keep the old until the new one's keyframe": the
slot keeps forwarding its current source and cuts over (rebasing sequence numbers and
timestamps) on the first packet of the new source's keyframe. Keyframe requests to a source
are throttled; a slot that waits keeps asking on every packet it has to drop, so a lost PLI
is retried once the throttle allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .rewrite import Rewriter
from .vp8 import is_vp8_keyframe

if TYPE_CHECKING:
    from aiortc.rtp import RtpPacket

    from .fastpath import SlotOutput

logger = logging.getLogger(__name__)

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

_HEADER = struct.Struct("!BBHII")


def ntp_time(unix_time: float) -> int:
    """64-bit NTP timestamp for a Unix time (what RTCP sender reports carry)."""
    return int((unix_time + NTP_EPOCH_OFFSET) * (1 << 32))


def build_extension_block(elements: Sequence[tuple[int, bytes]]) -> bytes:
    """RFC 8285 one-byte header extension block (profile 0xBEDE), padded to 32 bits."""
    body = bytearray()
    for ext_id, value in elements:
        if not 1 <= ext_id <= 14 or not 1 <= len(value) <= 16:
            raise ValueError(f"extension {ext_id} does not fit the one-byte form")
        body.append((ext_id << 4) | (len(value) - 1))
        body += value
    if not body:
        return b""
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + bytes(body)


class Source:
    """One published stream: a participant's audio or video uplink."""

    __slots__ = (
        "_deferred",
        "_keyframe_since_request",
        "_last_request",
        "_send_pli",
        "bytes_in",
        "closed",
        "consumers",
        "frames_in",
        "is_video",
        "keyframe_interval",
        "keyframes_in",
        "keyframes_requested",
        "kind",
        "media_ssrc",
        "muted",
        "packets_in",
        "participant_id",
    )

    def __init__(
        self,
        participant_id: str,
        kind: str,
        send_pli: Callable[[int], None],
        keyframe_interval: float = 0.5,
    ) -> None:
        self.participant_id = participant_id
        self.kind = kind
        self.is_video = kind == "video"
        self.consumers: list[OutSlot] = []
        self.media_ssrc: int | None = None
        self.muted = False
        self.closed = False
        self.keyframe_interval = keyframe_interval
        self._send_pli = send_pli
        self._last_request = -1e9
        self._keyframe_since_request = True
        self._deferred: asyncio.TimerHandle | None = None
        self.packets_in = 0
        self.bytes_in = 0
        self.frames_in = 0
        self.keyframes_in = 0
        self.keyframes_requested = 0

    def on_packet(self, packet: RtpPacket) -> None:
        """Forward one packet from the publisher to every consuming slot."""
        if self.closed:
            return
        payload = packet.payload
        self.packets_in += 1
        self.bytes_in += len(payload) + 12
        if packet.ssrc != self.media_ssrc:
            if self.media_ssrc is not None:
                self._restart()  # a new SSRC is a new numbering: subscribers resync
            self.media_ssrc = packet.ssrc
        if self.muted:
            return
        seq = packet.sequence_number
        consumers = self.consumers
        if not payload:  # padding only: nothing to forward, but keep numbering dense
            for slot in consumers:
                slot.skip(self, seq)
            return
        level = -1
        if self.is_video:
            key = is_vp8_keyframe(payload)
            if key:
                self.keyframes_in += 1
                self._keyframe_since_request = True
            if packet.marker:
                self.frames_in += 1
        else:
            key = True
            self.frames_in += 1
            audio_level = packet.extensions.audio_level
            if audio_level is not None:
                level = (0x80 if audio_level[0] else 0) | (audio_level[1] & 0x7F)
        if not consumers:
            return
        now = time.monotonic()
        ntp = ntp_time(time.time())
        ts = packet.timestamp
        marker = packet.marker
        for slot in consumers:
            try:
                slot.write(self, seq, ts, marker, payload, key, level, now, ntp)
            except Exception:
                # One subscriber's failure must not starve the others.
                slot.errors += 1
                if slot.errors == 1:
                    logger.exception("forwarding to %s/%s failed", slot.owner_id, slot.mid)

    def request_keyframe(self, now: float | None = None) -> None:
        """Ask the publisher for a keyframe, at most once per `keyframe_interval`.

        A request made while an earlier one is still unanswered is covered by it; one made
        after the keyframe arrived but inside the interval is deferred to the interval's end.
        """
        if not self.is_video or self.closed:
            return
        if now is None:
            now = time.monotonic()
        wait = self._last_request + self.keyframe_interval - now
        if wait <= 0:
            self._fire(now)
        elif self._keyframe_since_request and self._deferred is None:
            self._deferred = asyncio.get_running_loop().call_later(wait, self._fire_deferred)

    def _fire_deferred(self) -> None:
        self._deferred = None
        self._fire(time.monotonic())

    def _fire(self, now: float) -> None:
        if self.media_ssrc is None or self.closed:
            return  # nothing received yet: the first packets will ask again
        self._last_request = now
        self._keyframe_since_request = False
        self.keyframes_requested += 1
        self._send_pli(self.media_ssrc)

    def set_muted(self, muted: bool) -> None:
        if self.muted and not muted:
            self._restart()  # subscribers missed frames while muted
        self.muted = muted

    def _restart(self) -> None:
        """Subscribers resume at the next keyframe, rebased (nothing goes backwards)."""
        for slot in self.consumers:
            if slot.current is self:
                slot.synced = False

    def close(self) -> None:
        self.closed = True
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for slot in list(self.consumers):
            slot.drop_source(self)


class OutSlot:
    """One receive slot of a subscriber (a sendonly transceiver on our side).

    State: `current` is the source being forwarded, `pending` the one waiting for its
    keyframe to take over (both are in their source's `consumers`); `synced` is False until
    the current source's next keyframe (after a cut, a reconnect, an unmute, a jump), and
    while it is False nothing is sent: a decoder fed from mid-stream would only show garbage.
    """

    __slots__ = (
        "_ext",
        "_ext_by_level",
        "_level_id",
        "_mid_element",
        "bytes_out",
        "current",
        "cut_at",
        "dropped",
        "errors",
        "frames_out",
        "index",
        "is_video",
        "kind",
        "mid",
        "on_cut",
        "output",
        "owner_id",
        "packets_out",
        "payload_type",
        "pending",
        "requested_at",
        "rewriter",
        "ssrc",
        "synced",
    )

    def __init__(
        self,
        owner_id: str,
        kind: str,
        mid: str,
        index: int,
        output: SlotOutput,
        payload_type: int,
        clock_rate: int,
        extension_ids: dict[str, int],
    ) -> None:
        self.owner_id = owner_id
        self.kind = kind
        self.is_video = kind == "video"
        self.mid = mid
        self.index = index
        self.output = output
        self.ssrc = output.ssrc
        self.payload_type = payload_type
        self.rewriter = Rewriter(clock_rate)
        self.current: Source | None = None
        self.pending: Source | None = None
        self.synced = False
        # The slot's own MID rides on every packet: the browser demultiplexes by it, and the
        # publisher's MID (its own m-line on another connection) would be wrong here.
        mid_id = extension_ids.get(MID_URI)
        self._mid_element = [(mid_id, mid.encode())] if mid_id else []
        self._ext = build_extension_block(self._mid_element)
        self._level_id = 0 if self.is_video else extension_ids.get(AUDIO_LEVEL_URI, 0)
        self._ext_by_level: dict[int, bytes] = {}
        self.on_cut: Callable[[OutSlot], None] | None = None
        self.requested_at = 0.0
        self.cut_at = 0.0
        self.packets_out = 0
        self.bytes_out = 0
        self.frames_out = 0
        self.dropped = 0
        self.errors = 0

    # --- routing -------------------------------------------------------------------------

    def assign(self, source: Source | None) -> None:
        """Make `source` feed this slot (None: stop now)."""
        if source is self.current:
            if self.pending is not None:
                self._forget(self.pending)
                self.pending = None
            return
        if source is None:
            self.detach()
            return
        if source is self.pending:
            return
        if self.pending is not None:
            self._forget(self.pending)
        self.pending = source
        source.consumers.append(self)
        self.requested_at = time.monotonic()
        if self.is_video and self.output.ready:
            source.request_keyframe(self.requested_at)

    def detach(self) -> None:
        for source in (self.current, self.pending):
            if source is not None:
                self._forget(source)
        self.current = self.pending = None
        self.synced = False

    def drop_source(self, source: Source) -> None:
        if self.current is source:
            self._forget(source)
            self.current = None
            self.synced = False
        if self.pending is source:
            self._forget(source)
            self.pending = None

    def resync(self) -> None:
        """The subscriber (re)connected: resume at the next keyframe, asking for one now."""
        self.synced = False
        target = self.pending or self.current
        if target is not None and self.is_video:
            target.request_keyframe()

    def _forget(self, source: Source) -> None:
        with contextlib.suppress(ValueError):
            source.consumers.remove(self)

    # --- packet path ---------------------------------------------------------------------

    def write(
        self,
        source: Source,
        seq: int,
        ts: int,
        marker: int,
        payload: bytes,
        key: bool,
        level: int,
        now: float,
        ntp: int,
    ) -> None:
        output = self.output
        if source is not self.current:
            if source is not self.pending:
                return
            if not key:
                if output.ready:
                    source.request_keyframe(now)
                return
            if self.current is not None:
                self._forget(self.current)
            self.current = source
            self.pending = None
            self.synced = False
        if not self.synced:
            if not output.ready:
                return
            if not key:
                source.request_keyframe(now)
                return
            self.rewriter.cut(seq, ts, now)
            self.synced = True
            self.cut_at = now
            if self.on_cut is not None:
                self.on_cut(self)
        mapped = self.rewriter.map(seq, ts, now)
        if mapped is None:
            if self.rewriter.is_far(seq):
                self.synced = False  # the source's numbering jumped: rebase at a keyframe
            return
        out_seq, out_ts = mapped
        ext = self._ext if level < 0 or not self._level_id else self._level_ext(level)
        plain = (
            _HEADER.pack(
                0x90 if ext else 0x80,
                (marker << 7) | self.payload_type,
                out_seq,
                out_ts,
                self.ssrc,
            )
            + ext
            + payload
        )
        if output.send(plain, out_seq, out_ts, ntp, len(payload)):
            self.packets_out += 1
            self.bytes_out += len(plain)
            if marker or not self.is_video:
                self.frames_out += 1
        else:
            self.dropped += 1
            if not output.ready:
                self.synced = False

    def skip(self, source: Source, seq: int) -> None:
        if source is self.current and self.synced:
            self.rewriter.skip(seq)

    def _level_ext(self, level: int) -> bytes:
        ext = self._ext_by_level.get(level)
        if ext is None:
            ext = build_extension_block([*self._mid_element, (self._level_id, bytes((level,)))])
            self._ext_by_level[level] = ext
        return ext

    # --- feedback from the subscriber ----------------------------------------------------

    def on_keyframe_request(self) -> None:
        if self.current is not None:
            self.current.request_keyframe()

    def on_nack(self, lost: list[int]) -> None:
        for seq in lost:
            self.output.retransmit(seq)
