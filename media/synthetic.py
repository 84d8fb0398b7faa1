"""A synthetic publisher and receive counter for bots, load tests and the media tests.

Video and audio are encoded once at startup (VP8 and Opus with PyAV) and replayed as
`av.Packet`s: aiortc's sender packetizes a packet without encoding it, so a bot costs almost
nothing per frame. A keyframe request (PLI/FIR from the SFU) restarts the clip at its first
frame, which is a keyframe, so the stream stays decodable.

`FrameCounter` counts what arrives on a client's receive slots at the RTP level (no decoding):
frames per slot, which source each slot carries (told apart by the VP8 keyframe size, so give
each synthetic source its own size), and when the first frame of each source arrived. With
`decode_first=True` it also runs a slot's packets through a VP8 decoder from each new source's
keyframe until a frame comes out (`SlotCount.decoded`), then stops decoding again.

`SyntheticParticipant` is a whole client (own audio+video, K receive slots) for the CLI bot,
load tests and tests. Given a `media.pacer.Pacer` it publishes through the fast path (one
timer for all bots) instead of aiortc's sender: that is what lets one core drive dozens.
"""

from __future__ import annotations

import asyncio
import math
import re
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy
from aiortc.rtp import RtpPacket

from . import fastpath
from .layered import layer_streams, offer_layers
from .pacer import PacedStream, Pacer
from .transportcc import free_extension_id, offer_transport_cc, offered_transport_cc
from .vp8 import is_vp8_keyframe, strip_vp8_descriptor, vp8_keyframe_size

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
AUDIO_FRAME_SAMPLES = 960  # 20 ms at 48 kHz


@dataclass(frozen=True)
class EncodedClip:
    """Pre-encoded frames; frame 0 is a keyframe (video)."""

    frames: tuple[bytes, ...]
    fps: float
    width: int = 0
    height: int = 0

    @property
    def bitrate_bps(self) -> float:
        return sum(len(f) for f in self.frames) * 8 * self.fps / max(1, len(self.frames))


def _pattern_row(width: int, line_size: int) -> bytes:
    # Smooth enough that a keyframe is camera-sized (~20 KB at 640x480), not noise-sized.
    return bytes((x * 3 + (x * x >> 9)) & 0xFF for x in range(line_size + width))


def encode_vp8_clip(
    width: int = 640,
    height: int = 480,
    frames: int = 90,
    fps: int = 30,
    bitrate: int = 600_000,
    warmup: int = 30,
) -> EncodedClip:
    """Encode `frames` frames of a moving pattern as one VP8 group of pictures.

    The encoder first runs `warmup` frames that are thrown away, then is forced to a
    keyframe: rate control has settled by then, so the clip's keyframe has a realistic size
    (the very first frame of an encoder is several times larger, a burst no camera sends).
    """
    ctx: Any = av.CodecContext.create("libvpx", "w")
    ctx.width = width
    ctx.height = height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, fps)
    ctx.framerate = Fraction(fps, 1)
    ctx.bit_rate = bitrate
    ctx.gop_size = 1 << 20  # no periodic keyframes: only at the clip start and on request
    ctx.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
        "bufsize": str(bitrate),
        "partitions": "0",
        "max-intra-rate": "300",
    }
    out: list[bytes] = []
    line_size = av.VideoFrame(width, height, "yuv420p").planes[0].line_size
    base = _pattern_row(width, line_size)
    for index in range(warmup + frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        shift = (index * 5) % width
        rows = [base[(shift + y * 2) % width :][:line_size] for y in range(height)]
        frame.planes[0].update(b"".join(rows))
        for plane_index in (1, 2):
            plane = frame.planes[plane_index]
            plane.update(bytes([(96 + 40 * plane_index + index) & 0xFF]) * plane.buffer_size)
        frame.pts = index
        frame.time_base = Fraction(1, fps)
        if index == warmup:
            frame.pict_type = av.video.frame.PictureType.I
        out.append(b"".join(bytes(p) for p in ctx.encode(frame)))
    tail = b"".join(bytes(p) for p in ctx.encode(None))
    out = out[warmup:]
    if tail and out:
        out[-1] += tail
    if not out or not is_vp8_keyframe(b"\x10" + out[0]):
        raise RuntimeError("VP8 clip does not start with a keyframe")
    return EncodedClip(frames=tuple(out), fps=fps, width=width, height=height)


def encode_opus_clip(frames: int = 50, frequency: float = 440.0) -> EncodedClip:
    """Encode `frames` 20 ms Opus frames of a quiet tone."""
    ctx: Any = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = AUDIO_CLOCK
    ctx.layout = "stereo"
    ctx.format = "s16"
    ctx.bit_rate = 32000
    ctx.time_base = Fraction(1, AUDIO_CLOCK)
    ctx.options = {"application": "voip"}
    out: list[bytes] = []
    for index in range(frames):
        samples: list[int] = []
        for n in range(AUDIO_FRAME_SAMPLES):
            t = (index * AUDIO_FRAME_SAMPLES + n) / AUDIO_CLOCK
            value = int(2000 * math.sin(2 * math.pi * frequency * t))
            samples.extend((value, value))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_FRAME_SAMPLES)
        frame.planes[0].update(struct.pack(f"<{len(samples)}h", *samples))
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = Fraction(1, AUDIO_CLOCK)
        out.extend(bytes(p) for p in ctx.encode(frame))
    return EncodedClip(frames=tuple(out[:frames]), fps=AUDIO_CLOCK / AUDIO_FRAME_SAMPLES)


class _ClipTrack(MediaStreamTrack):
    """Replays a clip as `av.Packet`s at the clip's frame rate, in real time."""

    _clock_rate = VIDEO_CLOCK

    def __init__(self, clip: EncodedClip) -> None:
        super().__init__()
        self.clip = clip
        self.frames_sent = 0
        self.keyframes_sent = 0
        self.keyframe_requests = 0
        self._position = 0
        self._start: float | None = None
        self._keyframe_wanted = False
        self._step = round(self._clock_rate / clip.fps)

    def bind(self, sender: RTCRtpSender) -> None:
        """Answer the remote's keyframe requests to `sender` (which sends this track)."""
        fastpath.on_sender_keyframe_request(sender, self.request_keyframe)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self._keyframe_wanted = True

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self.frames_sent / self.clip.fps
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:
            self._start = now - self.frames_sent / self.clip.fps  # stalled: don't burst
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            self._position = 0
        if self._position == 0:
            self.keyframes_sent += 1
        packet = av.Packet(self.clip.frames[self._position])
        packet.pts = self.frames_sent * self._step
        packet.time_base = Fraction(1, self._clock_rate)
        self._position = (self._position + 1) % len(self.clip.frames)
        self.frames_sent += 1
        return packet


class SyntheticVideoTrack(_ClipTrack):
    kind = "video"


class SyntheticAudioTrack(_ClipTrack):
    kind = "audio"
    _clock_rate = AUDIO_CLOCK

    def request_keyframe(self) -> None:
        pass  # every Opus frame stands alone


@dataclass
class SlotCount:
    """What one receive slot (mid) has received."""

    kind: str
    frames: int = 0
    packets: int = 0
    label: str | None = None
    """Source the slot carries now (from the last keyframe's size); None before one."""
    frames_by_label: dict[str, int] = field(default_factory=dict)
    first_frame_at: dict[str, float] = field(default_factory=dict)
    """monotonic time of the first complete frame of each source label."""
    frame_times: deque[float] = field(default_factory=lambda: deque(maxlen=4096))
    captured: list[bytes] = field(default_factory=list)
    changes: list[tuple[float, str]] = field(default_factory=list)
    """(monotonic time, label) of each complete frame whose source differs from the last one."""
    decoded: list[tuple[float, str]] = field(default_factory=list)
    """With `decode_first`: (monotonic time, label from the decoded picture's size) when a new
    source's first frame came out of the decoder (in completion order, not always in time
    order when decoded in a pool)."""
    decoder: FirstFrameDecoder | None = None
    _last_ts: int | None = None
    _parts: list[bytes] = field(default_factory=list)


def decode_vp8_keyframe(frame: bytes) -> tuple[tuple[int, int] | None, float]:
    """Decode one VP8 keyframe: the picture's (width, height), None if none came out, and the
    CPU seconds the decode took on this thread."""
    started = time.thread_time()
    try:
        pictures = av.CodecContext.create("vp8", "r").decode(av.Packet(frame))
    except av.error.FFmpegError:
        pictures = []
    cpu = time.thread_time() - started
    return ((pictures[0].width, pictures[0].height) if pictures else None), cpu


class FirstFrameDecoder:
    """Decodes a slot's VP8 only for the first frame of each new source.

    A viewer sees a new source when its decoder produces a frame, not when the keyframe's last
    packet arrives. A keyframe whose size names a source other than the one shown is collected
    (retransmitted packets included) until every packet from its first to its marker is
    there, then decoded; `on_decoded(at, label)` gets the decoded picture's source and the
    time it came out: when the keyframe was complete plus the decode's own CPU time (a viewer
    decodes on its own CPU; many bots share one). With a `pool` the decode runs there, so a
    burst of switches does not hold up the bots' packets (PyAV releases the GIL while it
    decodes); without, inline. One decode per change, nothing in between. A newer keyframe of
    a new source replaces an unfinished one; a keyframe whose first packet never arrives is
    not noticed (the next keyframe is). Sources of the same size are not told apart.
    """

    def __init__(
        self,
        labels: Mapping[tuple[int, int], str],
        on_decoded: Callable[[float, str], None],
        pool: Executor | None = None,
    ) -> None:
        self.labels = labels
        self.on_decoded = on_decoded
        self.pool = pool
        self.shown: str | None = None
        """The source whose first frame was decoded (or is being decoded) last."""
        self.abandoned = 0
        """Keyframes replaced by a newer one before they were complete, or not decodable."""
        self._timestamp: int | None = None
        self._first = 0
        self._last: int | None = None
        self._parts: dict[int, bytes] = {}
        self._expected = ""

    def label(self, size: tuple[int, int]) -> str:
        return self.labels.get(size, f"{size[0]}x{size[1]}")

    def feed(self, packet: RtpPacket, keyframe_size: tuple[int, int] | None) -> None:
        seq = packet.sequence_number
        if packet.timestamp != self._timestamp:
            if keyframe_size is None or self.label(keyframe_size) == self.shown:
                return
            if self._timestamp is not None:
                self.abandoned += 1
            self._timestamp = packet.timestamp
            self._first = seq
            self._last = None
            self._parts = {}
            self._expected = self.label(keyframe_size)
        self._parts[seq] = strip_vp8_descriptor(packet.payload)
        if packet.marker:
            self._last = seq
        if self._last is None:
            return
        count = ((self._last - self._first) & 0xFFFF) + 1
        seqs = [(self._first + i) & 0xFFFF for i in range(count)]
        if any(s not in self._parts for s in seqs):
            return
        frame = b"".join(self._parts[s] for s in seqs)
        self._timestamp = None
        self._parts = {}
        self.shown = self._expected  # decoding: later keyframes of this source are not
        complete_at = time.monotonic()
        if self.pool is None:
            self._decoded(self._expected, complete_at, decode_vp8_keyframe(frame))
            return
        loop = asyncio.get_running_loop()
        future = self.pool.submit(decode_vp8_keyframe, frame)
        expected = self._expected
        future.add_done_callback(
            lambda done: loop.call_soon_threadsafe(
                self._decoded, expected, complete_at, done.result()
            )
        )

    def _decoded(
        self, expected: str, complete_at: float, result: tuple[tuple[int, int] | None, float]
    ) -> None:
        size, cpu = result
        if size is None:
            self.abandoned += 1
            if self.shown == expected:
                self.shown = None  # try this source's next keyframe
            return
        self.on_decoded(complete_at + cpu, self.label(size))


class FrameCounter:
    """Counts frames arriving on a client's receivers without decoding them.

    `labels` maps a VP8 keyframe size (width, height) to a source name. With `capture=True`
    the VP8 frames are reassembled and kept (to compare with what was published); with
    `decode_first=True` video slots decode each new source's first frame (`FirstFrameDecoder`,
    in `decode_pool` if given) into `SlotCount.decoded`.
    """

    def __init__(
        self,
        labels: dict[tuple[int, int], str] | None = None,
        capture: bool = False,
        decode_first: bool = False,
        decode_pool: Executor | None = None,
    ):
        self.labels = dict(labels or {})
        self.capture = capture
        self.decode_first = decode_first
        self.decode_pool = decode_pool
        self.slots: dict[str, SlotCount] = {}

    def attach(self, receiver: RTCRtpReceiver, mid: str, kind: str, reports: bool = False) -> None:
        count = self.slots[mid] = SlotCount(kind=kind)
        if self.decode_first and kind == "video":
            count.decoder = FirstFrameDecoder(
                self.labels, lambda at, label: count.decoded.append((at, label)), self.decode_pool
            )
        fastpath.tap_receiver(
            receiver, lambda packet: self._on_packet(count, packet), remb=False, reports=reports
        )

    def attach_all(self, transceivers: Iterable[Any], reports: bool = False) -> None:
        """Attach to every receive-only transceiver (the slots) of a client connection;
        `reports`: the caller sends their receiver reports (one compound per peer)."""
        for t in transceivers:
            if t.direction == "recvonly":
                self.attach(t.receiver, t.mid, t.kind, reports)

    def _on_packet(self, count: SlotCount, packet: RtpPacket) -> None:
        count.packets += 1
        payload = packet.payload
        if count.kind == "audio":
            count.frames += 1
            count.frame_times.append(time.monotonic())
            return
        if not payload:
            return
        size = vp8_keyframe_size(payload)
        if size is not None:
            count.label = self.labels.get(size, f"{size[0]}x{size[1]}")
        if count.decoder is not None:
            count.decoder.feed(packet, size)
        if self.capture:
            if packet.timestamp != count._last_ts:
                count._parts = []
                count._last_ts = packet.timestamp
            count._parts.append(strip_vp8_descriptor(payload))
        if packet.marker:
            now = time.monotonic()
            count.frames += 1
            count.frame_times.append(now)
            label = count.label
            if label is not None:
                count.frames_by_label[label] = count.frames_by_label.get(label, 0) + 1
                count.first_frame_at.setdefault(label, now)
                if not count.changes or count.changes[-1][1] != label:
                    count.changes.append((now, label))
            if self.capture:
                count.captured.append(b"".join(count._parts))
                count._parts = []

    def frames_since(self, mid: str, since: float) -> int:
        return sum(1 for t in self.slots[mid].frame_times if t >= since)

    def fps(self, window: float = 2.0) -> dict[str, float]:
        """Frames per second over the last `window` s per video source (label), audio by mid."""
        since = time.monotonic() - window
        result: dict[str, float] = {}
        for mid, count in self.slots.items():
            key = count.label if count.kind == "video" else f"audio:{mid}"
            if key is not None and count.frames:
                result[key] = result.get(key, 0.0) + self.frames_since(mid, since) / window
        return result

    def labels_seen(self) -> dict[str, str | None]:
        return {mid: c.label for mid, c in self.slots.items() if c.kind == "video"}


class SyntheticParticipant:
    """A client peer connection that publishes clips and receives on `slots` audio+video pairs.

    It follows the slot protocol of `media.sfu`: own audio and video sendonly, then `slots`
    recvonly pairs, one offer for the whole day. `exchange(offer_sdp) -> answer_sdp` is the
    signaling (a direct call in tests, socket.io for the CLI bot).
    """

    def __init__(
        self,
        video: EncodedClip | None,
        audio: EncodedClip | None,
        *,
        slots: int = 3,
        labels: Mapping[tuple[int, int], str] | None = None,
        capture: bool = False,
        ice_servers: Sequence[Mapping[str, Any]] = (),
        pacer: Pacer | None = None,
        ice_transport_policy: str = "all",
        decode_first: bool = False,
        decode_pool: Executor | None = None,
        layers: Sequence[EncodedClip] = (),
    ) -> None:
        """`layers`: publish video as simulcast, these clips lowest quality first (needs
        `pacer`; `video` is then ignored for sending)."""
        servers = [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in ice_servers
        ]
        # An explicit (empty) list: aiortc's default is a public STUN server. "relay" gathers
        # only TURN candidates (a client behind a firewall that allows nothing else).
        self.pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=servers,
                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
                iceTransportPolicy=RTCIceTransportPolicy(ice_transport_policy),
            )
        )
        self.pacer = pacer
        if layers and pacer is None:
            raise ValueError("simulcast bots publish through a Pacer")
        self.layers = tuple(layers)
        self.streams: list[PacedStream] = []
        self._downlink: fastpath.Downlink | None = None
        self._core: fastpath.ReceiverCore | None = None
        self._clips = {"audio": audio, "video": video}
        self.video = SyntheticVideoTrack(video) if video is not None else None
        self.audio = SyntheticAudioTrack(audio) if audio is not None else None
        for track in (self.audio, self.video):
            if track is None:
                continue
            if pacer is None:
                track.bind(self.pc.addTransceiver(track, direction="sendonly").sender)
            else:  # the pacer writes the packets and sender reports, not aiortc
                sender = self.pc.addTransceiver(track.kind, direction="sendonly").sender
                fastpath.detach_sender(sender)
        if self.layers and self.video is None:
            fastpath.detach_sender(self.pc.addTransceiver("video", direction="sendonly").sender)
        for _ in range(slots):
            self.pc.addTransceiver("audio", direction="recvonly")
            self.pc.addTransceiver("video", direction="recvonly")
        self.counter = FrameCounter(
            labels=dict(labels or {}),
            capture=capture,
            decode_first=decode_first,
            decode_pool=decode_pool,
        )

    async def create_offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        # Mids exist once the offer is set; receivers start only after the answer.
        # A pacer bot reports on what it receives in one compound a second, as browsers do.
        self.counter.attach_all(self.pc.getTransceivers(), reports=self.pacer is not None)
        sdp: str = self.pc.localDescription.sdp
        # A pacer bot numbers what it sends and reports on what it receives (transport-cc),
        # as browsers do (the lowest free id: the simulcast ids are far above it).
        transport_cc = free_extension_id(sdp) if self.pacer is not None else 0
        self._core = fastpath.fast_receive(self.pc, transport_cc_id=transport_cc)
        if self.layers:
            video = next(
                t
                for t in self.pc.getTransceivers()
                if t.direction == "sendonly" and t.kind == "video"
            )
            sdp = offer_layers(sdp, str(video.mid), len(self.layers))
        if transport_cc:
            sdp = offer_transport_cc(sdp, transport_cc)
        return sdp

    async def accept_answer(self, answer_sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        if self.pacer is None:
            return
        transport_cc = offered_transport_cc(answer_sdp)
        everything = self.pc.getTransceivers()
        if not everything:
            return
        # One transport (max-bundle): what we publish and our feedback both go out on it.
        downlink = self._downlink = fastpath.Downlink(everything[0].sender.transport)
        cname = re.search(r"^a=ssrc:\d+ cname:(\S+)", self.pc.localDescription.sdp, re.MULTILINE)
        receivers = [t.receiver for t in everything if t.direction == "recvonly"]
        self.pacer.add_peer(
            downlink,
            cname.group(1) if cname else "bot",
            receivers,
            self._core if transport_cc else None,
        )
        transceivers = [t for t in everything if t.direction == "sendonly"]
        for t in transceivers:
            clip = self._clips[t.kind]
            cname_text = cname.group(1) if cname else "bot"
            if t.kind == "video" and self.layers:
                for stream in layer_streams(
                    t, self.layers, downlink, cname_text, transport_cc=transport_cc
                ):
                    self.streams.append(stream)
                    self.pacer.add(stream)
                continue
            if clip is None:
                continue
            history = 128 if t.kind == "video" else 0
            stream = PacedStream(
                t.kind,
                clip,
                t.sender,
                fastpath.SlotOutput(t.sender, downlink, history),
                fastpath.negotiated_payload_type(t),
                str(t.mid),
                fastpath.header_extension_ids(t),
                downlink,
                cname.group(1) if cname else "bot",
                transport_cc=transport_cc,
            )
            self.streams.append(stream)
            self.pacer.add(stream)

    async def connect(self, exchange: Callable[[str], Awaitable[str]]) -> None:
        await self.accept_answer(await exchange(await self.create_offer()))

    async def close(self) -> None:
        if self.pacer is not None:
            for stream in self.streams:
                self.pacer.remove(stream)
            if self._downlink is not None:
                self.pacer.remove_peer(self._downlink)
        if self._downlink is not None:
            self._downlink.close()
        await self.pc.close()
