"""The optional first-frame decoder of `FrameCounter` (used by bench/sfu.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiortc.rtp import RtpPacket

from media import fastpath
from media.synthetic import EncodedClip, FirstFrameDecoder, FrameCounter
from media.vp8 import vp8_keyframe_size, vp8_packetize
from tests.utils import wait_for


class Stream:
    """RTP packets of one clip as a receive slot would see them."""

    def __init__(self, clip: EncodedClip, seq: int = 100) -> None:
        self.clip = clip
        self.seq = seq
        self.timestamp = 0

    def frame(self, index: int) -> list[RtpPacket]:
        payloads = vp8_packetize(self.clip.frames[index], picture_id=index, max_size=400)
        self.timestamp += 3000
        packets = []
        for i, payload in enumerate(payloads):
            packets.append(
                RtpPacket(
                    payload_type=96,
                    marker=int(i == len(payloads) - 1),
                    sequence_number=self.seq & 0xFFFF,
                    timestamp=self.timestamp,
                    payload=payload,
                )
            )
            self.seq += 1
        return packets


class Shown:
    def __init__(self, labels: dict[tuple[int, int], str]) -> None:
        self.seen: list[tuple[float, str]] = []
        self.decoder = FirstFrameDecoder(labels, lambda at, label: self.seen.append((at, label)))

    def feed(self, packets: list[RtpPacket]) -> list[str]:
        """The sources whose first frame these packets completed."""
        before = len(self.seen)
        for packet in packets:
            self.decoder.feed(packet, vp8_keyframe_size(packet.payload))
        return [label for _, label in self.seen[before:]]


def test_decodes_each_new_sources_first_frame_once(
    video_clips: dict[str, EncodedClip], labels: dict[tuple[int, int], str]
) -> None:
    shown = Shown(labels)
    a, b = Stream(video_clips["a"]), Stream(video_clips["b"], seq=60000)
    assert shown.feed(a.frame(1)) == []  # a delta frame before any keyframe: nothing
    keyframe = a.frame(0)
    assert len(keyframe) > 1
    started = time.monotonic()
    assert shown.feed(keyframe) == ["a"]
    assert started <= shown.seen[0][0] <= time.monotonic()
    assert shown.feed(a.frame(1) + a.frame(0)) == []  # same source again: not decoded
    assert shown.feed(b.frame(0) + b.frame(1)) == ["b"]  # across a sequence wrap too
    assert shown.decoder.abandoned == 0


def test_a_keyframe_waits_for_its_retransmitted_packet(
    video_clips: dict[str, EncodedClip], labels: dict[tuple[int, int], str]
) -> None:
    shown = Shown(labels)
    c = Stream(video_clips["c"])
    keyframe = c.frame(0)
    lost = keyframe.pop(1)
    assert shown.feed(keyframe + c.frame(1)) == []
    assert shown.feed([lost]) == ["c"]  # the NACKed packet comes back late


def test_an_unfinished_keyframe_is_replaced_by_the_next(
    video_clips: dict[str, EncodedClip], labels: dict[tuple[int, int], str]
) -> None:
    shown = Shown(labels)
    c = Stream(video_clips["c"])
    broken = c.frame(0)
    del broken[1]
    assert shown.feed(broken + c.frame(1)) == []
    assert shown.feed(c.frame(0)) == ["c"]
    assert shown.decoder.abandoned == 1


def test_an_undecodable_keyframe_lets_the_next_one_try(
    video_clips: dict[str, EncodedClip], labels: dict[tuple[int, int], str]
) -> None:
    clip = video_clips["d"]
    head = EncodedClip(frames=(clip.frames[0][:100],), fps=clip.fps)
    shown = Shown(labels)
    assert shown.feed(Stream(head).frame(0)) == []  # complete packets, truncated picture
    assert shown.decoder.abandoned == 1 and shown.decoder.shown is None
    assert shown.feed(Stream(clip).frame(0)) == ["d"]


async def test_a_pool_decodes_off_the_loop(
    video_clips: dict[str, EncodedClip], labels: dict[tuple[int, int], str]
) -> None:
    seen: list[tuple[float, str]] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        decoder = FirstFrameDecoder(labels, lambda at, label: seen.append((at, label)), pool)
        for packet in Stream(video_clips["e"]).frame(0):
            decoder.feed(packet, vp8_keyframe_size(packet.payload))
        await wait_for(lambda: bool(seen), within=10)
    assert [label for _, label in seen] == ["e"]


def test_counter_decodes_only_when_asked(
    video_clips: dict[str, EncodedClip],
    labels: dict[tuple[int, int], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fastpath, "tap_receiver", lambda *args, **kwargs: None)
    for decode_first, expected in ((False, []), (True, ["d"])):
        counter = FrameCounter(labels, decode_first=decode_first)
        counter.attach(None, "1", "video")  # type: ignore[arg-type]
        count = counter.slots["1"]
        for packet in Stream(video_clips["d"]).frame(0):
            counter._on_packet(count, packet)
        assert [label for _, label in count.decoded] == expected
        assert count.changes and count.changes[0][1] == "d"
