from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket, RtpPacket

from media.forwarder import MID_URI
from media.pacer import ABS_SEND_TIME_URI, PacedStream
from media.synthetic import EncodedClip
from media.vp8 import is_vp8_keyframe, strip_vp8_descriptor


class FakeSender:
    _ssrc = 99

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        pass


@dataclass
class FakeOutput:
    ssrc: int = 99
    sent: list[bytes] = field(default_factory=list)

    def send(self, plain: bytes, seq: int, timestamp: int, ntp: int, payload_size: int) -> bool:
        self.sent.append(plain)
        return True

    def retransmit(self, seq: int) -> bool:
        return False

    def on_report(self, report: Any) -> None:
        pass


async def test_paced_video_is_aiortc_wire_format_and_answers_pli(
    video_clips: dict[str, EncodedClip],
) -> None:
    clip = video_clips["a"]
    sender, output = FakeSender(), FakeOutput()
    ids = {MID_URI: 1, ABS_SEND_TIME_URI: 3}
    stream = PacedStream("video", clip, sender, output, 96, "1", ids, None, "x")  # type: ignore[arg-type]
    stream.tick(100.0)  # first tick: picks a phase within one frame period
    stream.tick(100.0 + 3.0 / clip.fps)  # three are due
    assert stream.frames_sent == 3
    packets = [RtpPacket.parse(p) for p in output.sent]
    assert {p.ssrc for p in packets} == {99} and {p.payload_type for p in packets} == {96}
    seqs = [p.sequence_number for p in packets]
    assert all(b == (a + 1) & 0xFFFF for a, b in itertools.pairwise(seqs))
    frames: dict[int, bytes] = {}
    for p in packets:
        frames[p.timestamp] = frames.get(p.timestamp, b"") + strip_vp8_descriptor(p.payload)
    assert list(frames.values()) == list(clip.frames[:3])
    assert sorted(frames)[1] - sorted(frames)[0] == 3000

    await sender._handle_rtcp_packet(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=99))
    output.sent.clear()
    stream.tick(100.0 + 4.0 / clip.fps)
    assert stream.keyframe_requests == 1 and is_vp8_keyframe(
        RtpPacket.parse(output.sent[0]).payload
    )


async def test_stalled_stream_resumes_without_a_burst(audio_clip: EncodedClip) -> None:
    output = FakeOutput()
    stream = PacedStream("audio", audio_clip, FakeSender(), output, 111, "0", {}, None, "x")  # type: ignore[arg-type]
    stream.tick(10.0)
    stream.tick(10.02)
    sent = len(output.sent)
    stream.tick(15.0)  # 5 s late: one frame, not 250
    assert sent == 1 and len(output.sent) == 2
