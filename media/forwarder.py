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

from .fastpath._datapath import SlotCore
from .rewrite import Rewriter, seq_newer
from .source import Layer, Source, ntp_time

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


def _element_frame(
    mid_element: Sequence[tuple[int, bytes]], ext_id: int, size: int
) -> tuple[bytes, bytes]:
    """The extension block around one element's value of `size` bytes: (before, after)."""
    block = build_extension_block([*mid_element, (ext_id, b"\x00" * size)])
    body = bytearray(block[4:])
    pos = 0
    while pos < len(body):  # find the element among the others
        element_id, length = body[pos] >> 4, (body[pos] & 0x0F) + 1
        if element_id == ext_id:
            return block[: 4 + pos + 1], block[4 + pos + 1 + length :]
        pos += 1 + length
    raise AssertionError("extension element missing")


class OutSlot(SlotCore):
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

    The steady case of `write` (the current source and layer, synced) and the tail of every
    write (map, picture id, header, send) run in C (`SlotCore`, media/fastpath/_datapath.c),
    on the same fields; `_write_slow` decides everything else.
    """

    __slots__ = (
        "_mid_element",
        "cut_at",
        "errors",
        "index",
        "kind",
        "layer_switches",
        "mid",
        "on_cut",
        "owner_id",
        "requested_at",
    )
    output: SlotOutput
    rewriter: Rewriter
    current: Source | None
    pending: Source | None

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
        self.current = None
        self.pending = None
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
        if abs_id:
            self._abs_before, self._abs_after = _element_frame(self._mid_element, abs_id, 3)
        level_id = 0 if self.is_video else extension_ids.get(AUDIO_LEVEL_URI, 0)
        if level_id:
            before, after = _element_frame(self._mid_element, level_id, 1)
            self._level_block = before + b"\x00" + after
            self._level_pos = len(before)
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

    def _write_slow(
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
        sent = self._tail(seq, ts, marker, payload, level, now, ntp, pic)
        if sent is False and not output.ready:
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

    def skip(self, source: Source, layer: int, seq: int) -> None:
        if source is self.current and self.synced and layer == self.layer:
            self.rewriter.skip(seq)

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
