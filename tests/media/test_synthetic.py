from __future__ import annotations

from typing import Any

from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

from media.synthetic import EncodedClip, SyntheticAudioTrack, SyntheticVideoTrack
from media.vp8 import is_vp8_keyframe


def key(frame: bytes) -> bool:
    return is_vp8_keyframe(b"\x10" + frame)


def test_clip_is_one_group_of_pictures(video_clips: dict[str, EncodedClip]) -> None:
    clip = video_clips["a"]
    assert len(clip.frames) == 30 and key(clip.frames[0])
    assert not any(key(f) for f in clip.frames[1:])
    assert 50_000 < clip.bitrate_bps < 600_000


def test_opus_clip(audio_clip: EncodedClip) -> None:
    assert len(audio_clip.frames) == 25 and audio_clip.fps == 50


class FakeSender:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        self.seen.append(packet)


async def test_video_track_answers_pli_with_a_keyframe(video_clips: dict[str, EncodedClip]) -> None:
    clip = video_clips["a"]
    track = SyntheticVideoTrack(clip)
    sender = FakeSender()
    track.bind(sender)  # type: ignore[arg-type]
    first = [bytes(await track.recv()) for _ in range(4)]
    assert first == list(clip.frames[:4])
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=2)
    await sender._handle_rtcp_packet(pli)
    assert sender.seen == [pli]  # aiortc still sees its RTCP
    packet = await track.recv()
    assert bytes(packet) == clip.frames[0] and track.keyframe_requests == 1
    assert packet.pts == 4 * 3000  # the timeline keeps going: only the content restarts
    assert bytes(await track.recv()) == clip.frames[1]
    track.stop()


async def test_audio_track_paces_20ms_frames(audio_clip: EncodedClip) -> None:
    track = SyntheticAudioTrack(audio_clip)
    packets = [await track.recv() for _ in range(3)]
    assert [p.pts for p in packets] == [0, 960, 1920]
    track.stop()
