"""A meeting bigger than the slots follows its speaker (real aiortc peers on loopback): five
people, three slots each; whoever starts speaking is put on every screen that did not show
them, first in line, and the room is told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from media.pacer import Pacer
from media.sfu import Sfu
from media.synthetic import EncodedClip, SyntheticParticipant
from tests.utils import wait_for

NAMES = ("a", "b", "c", "d", "e")


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    sfu = Sfu(keyframe_interval=0.25)
    yield sfu
    await sfu.close()


async def test_the_slots_follow_whoever_speaks(
    sfu: Sfu,
    video_clips: dict[str, EncodedClip],
    audio_clip: EncodedClip,
    labels: dict[tuple[int, int], str],
) -> None:
    pacer = Pacer()
    speakers: list[tuple[str, str | None]] = []
    sfu.on_speaker = lambda room, who: speakers.append((room, who))
    bots = {
        name: SyntheticParticipant(
            video_clips[name], audio_clip, slots=3, labels=labels, pacer=pacer
        )
        for name in NAMES
    }
    try:
        for name, bot in bots.items():
            await bot.connect(lambda offer, name=name: sfu.add_participant(name, offer, "m"))
            audio = next(s for s in bot.streams if s.kind == "audio")
            audio.speaking = False  # silence: DTX, level 127
        await wait_for(lambda: all(b.pc.connectionState == "connected" for b in bots.values()), 5)
        # Everyone shows the first three others who joined: nobody shows "e" but "a".
        assert "e" not in sfu.layout("b").values()
        assert sfu.speaker("m") is None

        next(s for s in bots["e"].streams if s.kind == "audio").speaking = True
        await wait_for(lambda: sfu.speaker("m") == "e", 2)
        assert speakers == [("m", "e")]
        for name in ("b", "c", "d"):
            await wait_for(lambda name=name: "e" in sfu.layout(name).values(), 1)
            showing = bots[name].counter.slots
            await wait_for(lambda showing=showing: any(c.label == "e" for c in showing.values()), 3)
        # The speaker's slot leads the allocation; the other slots are tiles (lowest layer).
        video, tiles = sfu._video_priority(sfu._participants["b"])
        assert (
            sfu._participants["b"].shown[
                [p[1] for p in sfu._participants["b"].pairs].index(video[0])
            ]
            == "e"
        )
        assert video[0].mid not in tiles and len(tiles) == 2
    finally:
        for bot in bots.values():
            await bot.close()
        await pacer.close()
