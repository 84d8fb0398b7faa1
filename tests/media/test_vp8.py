from __future__ import annotations

import pytest

from media.synthetic import EncodedClip
from media.vp8 import (
    is_vp8_keyframe,
    strip_vp8_descriptor,
    vp8_descriptor_size,
    vp8_keyframe_size,
    vp8_packetize,
    vp8_picture_fields,
)

KEY_FRAME_TAG = b"\x50\x02\x00"  # P bit (bit 0) clear: keyframe
INTER_FRAME_TAG = b"\x51\x02\x00"


@pytest.mark.parametrize(
    ("descriptor", "size"),
    [
        (b"\x10", 1),  # no extension
        (b"\x90\x80\x05", 3),  # X, I with 7-bit picture id
        (b"\x90\x80\x85\x01", 4),  # X, I with 15-bit picture id (M bit)
        (b"\x90\xe0\x85\x01\x07\x20", 6),  # I (15 bit), L, T
        (b"\x90\x10\x03", 3),  # K only: TID/KEYIDX byte
    ],
)
def test_descriptor_size(descriptor: bytes, size: int) -> None:
    assert vp8_descriptor_size(descriptor + b"payload") == size


def test_truncated_descriptor() -> None:
    assert vp8_descriptor_size(b"") == -1
    assert vp8_descriptor_size(b"\x90") == -1
    assert vp8_descriptor_size(b"\x90\x80") == -1
    assert not is_vp8_keyframe(b"\x90\x80\x85")


def test_keyframe_needs_start_of_partition_zero_and_clear_p_bit() -> None:
    assert is_vp8_keyframe(b"\x90\x80\x85\x01" + KEY_FRAME_TAG)
    assert is_vp8_keyframe(b"\x10" + KEY_FRAME_TAG)
    assert not is_vp8_keyframe(b"\x90\x80\x85\x01" + INTER_FRAME_TAG)
    assert not is_vp8_keyframe(b"\x80\x80\x85\x01" + KEY_FRAME_TAG)  # S=0: continuation
    assert not is_vp8_keyframe(b"\x11" + KEY_FRAME_TAG)  # partition 1
    assert not is_vp8_keyframe(b"")


def test_keyframe_size_from_real_encoder(video_clips: dict[str, EncodedClip]) -> None:
    clip = video_clips["b"]
    packet = b"\x90\x80\x85\x01" + clip.frames[0]
    assert vp8_keyframe_size(packet) == (clip.width, clip.height)
    assert vp8_keyframe_size(b"\x90\x80\x85\x01" + clip.frames[1]) is None
    assert strip_vp8_descriptor(packet) == clip.frames[0]


def test_packetize_matches_aiortc(video_clips: dict[str, EncodedClip]) -> None:
    from aiortc.codecs.vpx import Vp8Encoder

    for frame in (video_clips["a"].frames[0], b"tiny", b"x" * 2600):
        ours = vp8_packetize(frame, 0x1234)
        assert ours == Vp8Encoder._packetize(frame, 0x1234)
        assert is_vp8_keyframe(ours[0]) == is_vp8_keyframe(b"\x10" + frame)
        assert b"".join(strip_vp8_descriptor(p) for p in ours) == frame


def test_picture_fields_and_their_rewrite() -> None:
    from media.vp8 import rewrite_vp8_picture, vp8_picture_fields

    long_pid = b"\x90\xc0\x85\x01\x07" + b"vp8"  # I and L: 15-bit picture id 0x501, TL0 7
    fields = vp8_picture_fields(long_pid)
    assert fields == (2, 15, 0x501, 4, 7)
    moved = rewrite_vp8_picture(long_pid, fields, 0x7FFF, 250)  # both wrap around
    assert vp8_picture_fields(moved) == (2, 15, 0x500, 4, 1) and moved[5:] == b"vp8"
    short_pid = b"\x90\x80\x7f" + b"vp8"
    fields = vp8_picture_fields(short_pid)
    assert fields == (2, 7, 0x7F, 0, 0)
    assert rewrite_vp8_picture(short_pid, fields, 2, 0)[2] == 1
    assert vp8_picture_fields(b"\x10vp8") is None  # no extension byte
    assert vp8_picture_fields(b"\x90\x40") is None  # truncated


def test_a_truncated_picture_id_is_no_picture_id() -> None:
    # M=1 says the picture id has 15 bits, but the packet ends after its first byte.
    assert vp8_picture_fields(b"\x90\x80\x86") is None
