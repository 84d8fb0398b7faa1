"""Real topologies: several `serve` processes behind a real proxy (harness.py)."""

from __future__ import annotations

from tests.media.conftest import audio_clip, video_clips

__all__ = ["audio_clip", "video_clips"]
