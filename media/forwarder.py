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

import contextlib
import logging
import struct
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .rewrite import Rewriter, seq_newer
from .source import Layer, Source, ntp_time
from .vp8 import rewrite_vp8_picture

if TYPE_CHECKING:
    from .fastpath import SlotOutput

__all__ = ["Layer", "OutSlot", "Source", "build_extension_block", "ntp_time"]

logger = logging.getLogger(__name__)

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"

_HEADER = struct.Struct("!BBHII")


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


def _abs_send_time_frame(
    mid_element: Sequence[tuple[int, bytes]], abs_id: int
) -> tuple[bytes, bytes]:
    """The extension block around a 3-byte abs-send-time value: (before, after)."""
    block = build_extension_block([*mid_element, (abs_id, b"\x00\x00\x00")])
    body = bytearray(block[4:])
    pos = 0
    while pos < len(body):  # find the abs-send-time element among the others
        ext_id, size = body[pos] >> 4, (body[pos] & 0x0F) + 1
        if ext_id == abs_id:
            return block[: 4 + pos + 1], block[4 + pos + 1 + size :]
        pos += 1 + size
    raise AssertionError("abs-send-time element missing")


class OutSlot:
    """One receive slot of a subscriber (a sendonly transceiver on our side).

    State: `current` is the source being forwarded, `pending` the one waiting for its
    keyframe to take over (both are in their source's `consumers`); `synced` is False until
    the current source's next keyframe (after a cut, a reconnect, an unmute, a jump), and
    while it is False nothing is sent: a decoder fed from mid-stream would only show garbage.

    Simulcast: `layer` is the layer of `current` being forwarded, `target` the one wanted
    (from `want`, the quality the subscriber's downlink allows, through `Source.pick_layer`).
    A layer switch is a cut like a source switch: at the target layer's keyframe, with
    sequence numbers, timestamps, VP8 picture id and TL0PICIDX continued, so the decoder sees
    one stream. `want = -1` pauses the slot (video): nothing is sent until it is raised.
    """

    __slots__ = (
        "_abs_around",
        "_ext",
        "_ext_by_level",
        "_level_id",
        "_mid_element",
        "_pid_delta",
        "_pid_last",
        "_tl0_delta",
        "_tl0_last",
        "bytes_out",
        "current",
        "cut_at",
        "dropped",
        "errors",
        "frames_out",
        "index",
        "is_video",
        "kind",
        "layer",
        "layer_switches",
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
        "target",
        "want",
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
        self.layer = 0
        self.target = 0
        self.want = 2
        self.layer_switches = 0
        self._pid_delta = 0
        self._tl0_delta = 0
        self._pid_last = -1
        self._tl0_last = -1
        # The slot's own MID rides on every packet: the browser demultiplexes by it, and the
        # publisher's MID (its own m-line on another connection) would be wrong here.
        mid_id = extension_ids.get(MID_URI)
        self._mid_element = [(mid_id, mid.encode())] if mid_id else []
        self._ext = build_extension_block(self._mid_element)
        # Video also carries abs-send-time: a browser then runs its delay-based receive
        # estimator and sends REMB, which congestion control reads as a queue building.
        abs_id = extension_ids.get(ABS_SEND_TIME_URI, 0) if self.is_video else 0
        self._abs_around = _abs_send_time_frame(self._mid_element, abs_id) if abs_id else None
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

    @property
    def paused(self) -> bool:
        return self.is_video and self.want < 0

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
        self.target = source.pick_layer(self.want, self.requested_at)
        if self.is_video and self.output.ready and not self.paused:
            source.request_keyframe(self.requested_at, self.target)

    def set_want(self, want: int, now: float) -> None:
        """The quality this slot may carry (0 lowest layer, 2 top, -1 paused)."""
        was_paused = self.paused
        self.want = want
        if self.paused:
            if not was_paused:
                self.synced = False  # resume at a keyframe
            return
        source = self.pending or self.current
        if source is None:
            return
        self.target = source.pick_layer(want, now)
        if not self.is_video or not self.output.ready:
            return
        if was_paused or self.target != self.layer or self.pending is not None:
            source.request_keyframe(now, self.target)

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
        if target is not None and self.is_video and not self.paused:
            target.request_keyframe(None, self.target)

    def _forget(self, source: Source) -> None:
        with contextlib.suppress(ValueError):
            source.consumers.remove(self)

    # --- packet path ---------------------------------------------------------------------

    def write(
        self,
        source: Source,
        layer: int,
        seq: int,
        ts: int,
        marker: int,
        payload: bytes,
        key: bool,
        level: int,
        now: float,
        ntp: int,
        pic: tuple[int, int, int, int, int] | None = None,
    ) -> None:
        output = self.output
        if self.want < 0 and self.is_video:
            return  # paused: the subscriber's link carries its audio only
        if source is not self.current:
            if source is not self.pending or layer != self.target:
                return
            if not key:
                if output.ready:
                    source.request_keyframe(now, layer)
                return
            if self.current is not None:
                self._forget(self.current)
            self.current = source
            self.pending = None
            self.layer = layer
            self.synced = False
        elif layer != self.layer:
            if layer != self.target:
                return
            if not key:
                if output.ready:
                    source.request_keyframe(now, layer)
                return
            self.layer = layer  # switch layers at the target's keyframe
            self.layer_switches += 1
            self.synced = False
        elif not self.synced and layer != self.target:
            return  # resuming: wait for the target layer's keyframe, not this one's
        if not self.synced:
            if not output.ready:
                return
            if not key:
                source.request_keyframe(now, layer)
                return
            self.rewriter.cut(seq, ts, now)
            if pic is not None:
                self._cut_picture(pic)
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
        if pic is not None:
            payload = self._picture(payload, pic)
        around = self._abs_around
        if around is not None:
            ext = around[0] + ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big") + around[1]
        else:
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

    def _cut_picture(self, pic: tuple[int, int, int, int, int]) -> None:
        """Continue the picture id and TL0PICIDX the subscriber saw last (a new segment)."""
        _, pid_bits, pid, tl0_pos, tl0 = pic
        if pid_bits and self._pid_last >= 0:
            self._pid_delta = (self._pid_last + 1 - pid) & 0x7FFF
        else:
            self._pid_delta = 0
        if tl0_pos and self._tl0_last >= 0:
            self._tl0_delta = (self._tl0_last + 1 - tl0) & 0xFF
        else:
            self._tl0_delta = 0

    def _picture(self, payload: bytes, pic: tuple[int, int, int, int, int]) -> bytes:
        _, pid_bits, pid, tl0_pos, tl0 = pic
        if pid_bits:
            mask = 0x7FFF if pid_bits == 15 else 0x7F
            out = (pid + self._pid_delta) & mask
            last = self._pid_last
            if last < 0 or ((out - last) & mask) <= (mask >> 1):
                self._pid_last = out
        if tl0_pos:
            out_tl0 = (tl0 + self._tl0_delta) & 0xFF
            if self._tl0_last < 0 or ((out_tl0 - self._tl0_last) & 0xFF) < 0x80:
                self._tl0_last = out_tl0
        if self._pid_delta or self._tl0_delta:
            return rewrite_vp8_picture(payload, pic, self._pid_delta, self._tl0_delta)
        return payload

    def skip(self, source: Source, layer: int, seq: int) -> None:
        if source is self.current and self.synced and layer == self.layer:
            self.rewriter.skip(seq)

    def _level_ext(self, level: int) -> bytes:
        ext = self._ext_by_level.get(level)
        if ext is None:
            ext = build_extension_block([*self._mid_element, (self._level_id, bytes((level,)))])
            self._ext_by_level[level] = ext
        return ext

    # --- feedback from the subscriber ----------------------------------------------------

    def on_keyframe_request(self) -> None:
        if self.current is not None and not self.paused:
            self.current.request_keyframe(None, self.layer)

    def on_nack(self, lost: list[int]) -> None:
        output = self.output
        high = output.nack_high
        for seq in lost:
            # Receivers repeat a NACK until the packet arrives: count each loss once.
            if high < 0 or seq_newer(seq, high):
                output.nacked += 1
                high = seq
            output.retransmit(seq)
        output.nack_high = high
