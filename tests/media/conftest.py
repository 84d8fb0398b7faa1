from __future__ import annotations

import pytest

from media.synthetic import EncodedClip, encode_opus_clip, encode_vp8_clip

# Each source gets its own frame size: receivers tell sources apart from keyframe headers.
NAMES = ("a", "b", "c", "d", "e")


@pytest.fixture(scope="session")
def video_clips() -> dict[str, EncodedClip]:
    return {
        name: encode_vp8_clip(160 + 16 * i, 120, frames=30, bitrate=150_000)
        for i, name in enumerate(NAMES)
    }


@pytest.fixture(scope="session")
def audio_clip() -> EncodedClip:
    return encode_opus_clip(frames=25)


@pytest.fixture(scope="session")
def labels(video_clips: dict[str, EncodedClip]) -> dict[tuple[int, int], str]:
    return {(c.width, c.height): name for name, c in video_clips.items()}
