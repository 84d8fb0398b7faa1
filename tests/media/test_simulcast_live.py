"""Simulcast end to end on loopback with real aiortc peers: a bot publishes three layers, the
SFU accepts them in its answer, and a subscriber's slot moves between layers (and pauses) at
keyframes without a new negotiation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from media.pacer import Pacer
from media.sfu import Sfu
from media.synthetic import EncodedClip, SyntheticParticipant, encode_vp8_clip
from tests.utils import wait_for

SIZES = {(160, 120): "q", (320, 240): "h", (480, 360): "f"}


@pytest.fixture(scope="module")
def layer_clips() -> list[EncodedClip]:
    rates = (60_000, 200_000, 450_000)
    return [
        encode_vp8_clip(w, h, frames=30, bitrate=rate)
        for (w, h), rate in zip(SIZES, rates, strict=True)
    ]


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    sfu = Sfu(congestion_control=False, keyframe_interval=0.25)
    yield sfu
    await sfu.close()


async def test_a_slot_moves_between_layers_and_pauses(
    sfu: Sfu, layer_clips: list[EncodedClip], audio_clip: EncodedClip
) -> None:
    pacer = Pacer()
    publisher = SyntheticParticipant(None, audio_clip, slots=0, pacer=pacer, layers=layer_clips)
    viewer = SyntheticParticipant(None, None, slots=1, labels=SIZES)
    answers: list[str] = []

    async def exchange(name: str, offer: str) -> str:
        answer = await sfu.add_participant(name, offer, "room")
        answers.append(answer)
        return answer

    try:
        await publisher.connect(lambda offer: exchange("pub", offer))
        await viewer.connect(lambda offer: exchange("viewer", offer))
        assert "a=simulcast:recv q;h;f" in answers[0]
        assert "a=simulcast" not in answers[1]  # the viewer offered none
        video_mid = next(m for m, c in viewer.counter.slots.items() if c.kind == "video")
        audio_mid = next(m for m, c in viewer.counter.slots.items() if c.kind == "audio")
        showing = viewer.counter.slots[video_mid]

        await wait_for(lambda: showing.label == "f", 10)  # the top layer by default
        assert sfu.stats("pub").layers_in == 3
        layers = sfu._participants["pub"].sources["video"].layers
        await wait_for(lambda: all(layer.bytes_in > 0 for layer in layers), 5)
        slot = sfu._participants["viewer"].pairs[0][1]
        assert slot is not None

        slot.set_want(0, time.monotonic())
        await wait_for(lambda: showing.label == "q", 5)
        slot.set_want(1, time.monotonic())
        await wait_for(lambda: showing.label == "h", 5)
        assert sfu.stats("viewer").video_layers == {video_mid: 1}
        assert slot.layer_switches >= 2

        slot.set_want(-1, time.monotonic())  # paused: audio keeps coming, video stops
        await asyncio.sleep(0.3)  # packets already on their way
        video_before = showing.frames
        audio_before = viewer.counter.slots[audio_mid].frames
        await asyncio.sleep(1.0)  # a measurement window
        assert showing.frames == video_before
        assert viewer.counter.slots[audio_mid].frames >= audio_before + 25
        assert sfu.stats("viewer").video_layers == {video_mid: -1}

        slot.set_want(2, time.monotonic())
        resumed = showing.frames
        await wait_for(lambda: showing.frames > resumed + 10 and showing.label == "f", 5)
    finally:
        await publisher.close()
        await viewer.close()
        await pacer.close()
