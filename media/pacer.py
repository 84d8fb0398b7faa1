"""Pre-encoded clips sent as RTP straight through the fast path, many streams on one timer.

The timer also sends each peer's RTCP sender reports (one compound packet per peer).

aiortc's sender path costs a task wake-up per frame, an RTP object and four awaits per packet.
For load tests that is the bottleneck, not the SFU: a `Pacer` sends the due frames of every
registered stream from one periodic task, packetizing (VP8) and protecting them with the
same synchronous path the SFU forwards with. Keyframe requests (PLI/FIR) restart the clip at
its keyframe; NACKs are answered from the stream's history. Same wire format as aiortc.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiortc import RTCRtpReceiver, RTCRtpSender

from .fastpath import (
    Downlink,
    ReceiverCore,
    SlotOutput,
    send_sender_reports,
    send_transport_feedback,
    tap_sender,
)
from .forwarder import AUDIO_LEVEL_URI, MID_URI, build_extension_block, ntp_time
from .vp8 import vp8_packetize

if TYPE_CHECKING:
    from .synthetic import EncodedClip

logger = logging.getLogger(__name__)

ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_HEADER = struct.Struct("!BBHII")
REPORT_INTERVAL = 1.0  # seconds between RTCP sender reports
SPEECH_LEVEL = 30  # -dBov: normal speech into a headset microphone
DTX_EVERY = 20  # Opus DTX in silence: one 20 ms frame in 400 ms
FEEDBACK_INTERVAL = 0.1  # transport-cc feedback, as often as browsers send it
FEEDBACK_SSRC = 1


def _append_element(block: bytes, ext_id: int, value: bytes) -> bytes:
    """A one-byte-header extension block (or none) with one more element."""
    if not block:
        return build_extension_block([(ext_id, value)])
    body = block[4:]
    end = 0
    while end < len(body) and body[end]:  # a zero byte is padding: in our blocks, the end
        end += 2 + (body[end] & 0x0F)
    body = body[:end] + bytes(((ext_id << 4) | (len(value) - 1),)) + value
    body += b"\x00" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


class PacedStream:
    """One synthetic outgoing stream (a clip looped at its frame rate)."""

    def __init__(
        self,
        kind: str,
        clip: EncodedClip,
        sender: RTCRtpSender,
        output: SlotOutput,
        payload_type: int,
        mid: str,
        extension_ids: dict[str, int],
        downlink: Downlink,
        cname: str,
        rid: tuple[int, str] | None = None,
        rtcp: object | None = None,
        transport_cc: int = 0,
    ) -> None:
        """`rid` (extension id, layer name): a simulcast layer, named on every packet;
        `rtcp`: what receives this stream's RTCP (default the sender; a layer has its own);
        `transport_cc`: the extension id of transport-wide sequence numbers (0: none), one
        numbering per downlink as a browser does."""
        rng = random.Random()
        self.downlink = downlink
        self.cname = cname
        self.kind = kind
        self.clip = clip
        self.output = output
        self.payload_type = payload_type
        self.frames_sent = 0
        self.keyframe_requests = 0
        self._is_video = kind == "video"
        self._period = 1.0 / clip.fps
        self._step = round((90000 if self._is_video else 48000) / clip.fps)
        self._seq = rng.randrange(1 << 15)
        self._ts_origin = rng.randrange(1 << 32)
        self._picture_id = rng.randrange(1 << 15)
        self._position = 0
        self._keyframe_wanted = False
        self._next: float | None = None
        mid_id = extension_ids.get(MID_URI)
        self._mid = [(mid_id, mid.encode())] if mid_id else []
        if rid is not None:
            self._mid.append((rid[0], rid[1].encode()))
        self._abs_id = extension_ids.get(ABS_SEND_TIME_URI, 0) if self._is_video else 0
        self._ext = build_extension_block(self._mid)
        level_id = 0 if self._is_video else extension_ids.get(AUDIO_LEVEL_URI, 0)
        self.speaking: bool | None = None
        """Audio: None sends every frame without a level; True sends every frame marked loud
        (speech); False sends one frame in `DTX_EVERY`, marked silent (Opus DTX)."""
        self._level_ext = (
            {
                speaking: build_extension_block(
                    [*self._mid, (level_id, bytes((SPEECH_LEVEL if speaking else 127,)))]
                )
                for speaking in (True, False)
            }
            if level_id
            else {}
        )
        self._tcc_id = transport_cc
        target: Any = rtcp if rtcp is not None else sender
        tap_sender(target, self.request_keyframe, self.on_nack, output.on_report)

    def _stamped(self, ext: bytes) -> bytes:
        """`ext` with the downlink's next transport-wide sequence number appended."""
        seq = self.downlink.transport_seq
        self.downlink.transport_seq = (seq + 1) & 0xFFFF
        return _append_element(ext, self._tcc_id, seq.to_bytes(2, "big"))

    def request_keyframe(self) -> None:
        if self._is_video:
            self.keyframe_requests += 1
            self._keyframe_wanted = True

    def on_nack(self, lost: list[int]) -> None:
        for seq in lost:
            self.output.retransmit(seq)

    def tick(self, now: float) -> None:
        """Send every frame that is due by `now` (none ahead of time)."""
        if self._next is None:
            # A random phase: bots started together must not send in lockstep, which
            # would flatter the receiver (one wake-up per burst of everyone's frames).
            self._next = now + random.random() * self._period
        elif now - self._next > 1.0:
            self._next = now  # stalled: resume without a burst
        while now >= self._next:
            self._send_frame()
            self._next += self._period

    def _send_frame(self) -> None:
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            self._position = 0
        frame = self.clip.frames[self._position]
        self._position = (self._position + 1) % len(self.clip.frames)
        timestamp = (self._ts_origin + self.frames_sent * self._step) & 0xFFFFFFFF
        self.frames_sent += 1
        if not frame:
            return
        wall = time.time()
        ntp = ntp_time(wall)
        ext = self._ext
        if self._is_video:
            payloads = vp8_packetize(frame, self._picture_id)
            self._picture_id = (self._picture_id + 1) & 0x7FFF
            if self._abs_id:
                abs_send_time = ((ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")
                ext = build_extension_block([*self._mid, (self._abs_id, abs_send_time)])
        else:
            payloads = [frame]
            if self.speaking is not None:
                if not self.speaking and (self.frames_sent - 1) % DTX_EVERY:
                    return  # discontinuous transmission: silence costs almost nothing
                ext = self._level_ext.get(self.speaking, ext)
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            seq = self._seq
            self._seq = (seq + 1) & 0xFFFF
            marker = 0x80 if i == last else 0
            stamped = self._stamped(ext) if self._tcc_id else ext
            header = _HEADER.pack(
                0x90 if stamped else 0x80,
                marker | self.payload_type,
                seq,
                timestamp,
                self.output.ssrc,
            )
            self.output.send(header + stamped + payload, seq, timestamp, ntp, len(payload))


@dataclass
class _Peer:
    downlink: Downlink
    cname: str
    receivers: list[RTCRtpReceiver]
    core: ReceiverCore | None


class Pacer:
    """Drives many `PacedStream`s from one task ticking every `tick` seconds.

    5 ms is what a browser's pacer does for video (bursts every 5 ms); audio leaves a
    browser unpaced, so its jitter here is at most one tick.
    """

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self._streams: list[PacedStream] = []
        self._peers: dict[int, _Peer] = {}
        self._task: asyncio.Task[None] | None = None

    def add_peer(
        self,
        downlink: Downlink,
        cname: str,
        receivers: Sequence[RTCRtpReceiver] = (),
        core: ReceiverCore | None = None,
    ) -> None:
        """One bot's connection: its streams' sender reports and its `receivers`' reports go
        out as one compound a second; with `core`, transport-cc feedback on what it receives
        every `FEEDBACK_INTERVAL`."""
        self._peers[id(downlink)] = _Peer(downlink, cname, list(receivers), core)

    def remove_peer(self, downlink: Downlink) -> None:
        self._peers.pop(id(downlink), None)

    def add(self, stream: PacedStream) -> None:
        self._streams.append(stream)
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def remove(self, stream: PacedStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    async def _run(self) -> None:
        next_reports = time.monotonic() + REPORT_INTERVAL
        next_feedback = time.monotonic() + FEEDBACK_INTERVAL
        while True:
            now = time.monotonic()
            for stream in list(self._streams):
                try:
                    stream.tick(now)
                except Exception:  # one broken stream must not stop the others
                    logger.exception("paced stream failed")
                    self.remove(stream)
            if now >= next_reports:
                next_reports = now + REPORT_INTERVAL
                self._send_reports()
            if now >= next_feedback:
                next_feedback = now + FEEDBACK_INTERVAL
                self._send_feedback()
            await asyncio.sleep(self.tick)

    def _send_reports(self) -> None:
        outputs: dict[int, list[SlotOutput]] = {}
        for stream in self._streams:
            outputs.setdefault(id(stream.downlink), []).append(stream.output)
        for key, peer in list(self._peers.items()):
            try:
                send_sender_reports(peer.downlink, outputs.get(key, []), peer.cname, peer.receivers)
            except Exception:
                logger.exception("reports failed")

    def _send_feedback(self) -> None:
        for peer in list(self._peers.values()):
            if peer.core is None:
                continue
            try:
                send_transport_feedback(peer.core, peer.downlink, FEEDBACK_SSRC, 0)
            except Exception:
                logger.exception("transport-cc feedback failed")

    async def close(self) -> None:
        self._streams.clear()
        self._peers.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
