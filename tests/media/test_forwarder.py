"""The forwarding state machine with a fake output: no sockets, no aiortc peers."""

from __future__ import annotations

import itertools
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from media.forwarder import AUDIO_LEVEL_URI, MID_URI, OutSlot, Source, build_extension_block

KEY = b"\x90\x80\x85\x01" + b"\x50\x02\x00" + b"key-frame-bytes"
DELTA_START = b"\x90\x80\x85\x02" + b"\x51\x02\x00" + b"delta"
DELTA_CONT = b"\x80\x80\x85\x02" + b"more"


def with_picture_id(payload: bytes, picture_id: int) -> bytes:
    """`payload` with its 15-bit picture id replaced (what a cut makes of a new segment)."""
    return payload[:2] + bytes((0x80 | picture_id >> 8, picture_id & 0xFF)) + payload[4:]


@dataclass
class FakeOutput:
    ssrc: int = 0x1234
    ready: bool = True
    accept: bool = True
    sent: list[bytes] = field(default_factory=list)

    def send(self, plain: bytes, seq: int, timestamp: int, ntp: int, payload_size: int) -> bool:
        if not self.accept:
            return False
        self.sent.append(plain)
        return True

    def retransmit(self, seq: int) -> bool:
        return False

    def parsed(self) -> list[RtpPacket]:
        return [RtpPacket.parse(p) for p in self.sent]


def make_slot(kind: str = "video", output: Any = None, mid: str = "3") -> OutSlot:
    ids = {MID_URI: 1, AUDIO_LEVEL_URI: 2}
    return OutSlot(
        "sub",
        kind,
        mid,
        0,
        output or FakeOutput(),
        96 if kind == "video" else 111,
        90000 if kind == "video" else 48000,
        ids,
    )


def make_source(name: str, kind: str = "video") -> tuple[Source, list[int]]:
    plis: list[int] = []
    return Source(name, kind, send_pli=plis.append), plis


def packet(seq: int, ts: int, payload: bytes, marker: int = 1, ssrc: int = 777) -> RtpPacket:
    return RtpPacket(
        payload_type=100,
        sequence_number=seq,
        timestamp=ts,
        ssrc=ssrc,
        payload=payload,
        marker=marker,
    )


def test_extension_block_layout() -> None:
    assert build_extension_block([]) == b""
    block = build_extension_block([(1, b"3")])
    assert block == struct.pack("!HH", 0xBEDE, 1) + bytes([0x10]) + b"3" + b"\x00\x00"
    with pytest.raises(ValueError):
        build_extension_block([(15, b"x")])


async def test_waits_for_keyframe_then_forwards_payload_unchanged() -> None:
    source, plis = make_source("pub")
    slot = make_slot()
    slot.assign(source)
    assert slot.pending is source and slot.current is None
    source.on_packet(packet(1000, 90000, DELTA_START))
    assert slot.output.sent == [] and plis == [777]  # dropped, keyframe requested
    source.on_packet(packet(1001, 93000, KEY))
    source.on_packet(packet(1002, 96000, DELTA_START, marker=0))
    source.on_packet(packet(1003, 96000, DELTA_CONT))
    out = slot.output.parsed()
    assert [p.payload for p in out] == [KEY, DELTA_START, DELTA_CONT]
    assert {p.ssrc for p in out} == {0x1234} and {p.payload_type for p in out} == {96}
    gaps = [(b.sequence_number - a.sequence_number) & 0xFFFF for a, b in itertools.pairwise(out)]
    assert gaps == [1, 1]
    assert out[0].marker == 1 and out[1].marker == 0
    assert slot.current is source and slot.pending is None
    assert slot.frames_out == 2


async def test_switch_keeps_old_source_until_new_keyframe() -> None:
    old, _ = make_source("old")
    new, new_plis = make_source("new")
    slot = make_slot()
    slot.assign(old)
    old.on_packet(packet(10, 1000, KEY))
    slot.assign(new)
    assert new_plis == []  # the new source has not sent anything yet: nothing to address
    new.on_packet(packet(500, 7000, DELTA_START))
    assert new_plis == [777]
    old.on_packet(packet(11, 4000, DELTA_START))  # still forwarded
    new.on_packet(packet(501, 10000, DELTA_START))  # throttled: no second PLI
    assert new_plis == [777]
    new.on_packet(packet(502, 13000, KEY))
    old.on_packet(packet(12, 7000, DELTA_START))  # cut over: the old source is gone
    out = slot.output.parsed()
    # The new source's picture ids continue the old one's (0x502 was the last shown).
    assert [p.payload for p in out] == [KEY, DELTA_START, with_picture_id(KEY, 0x503)]
    seqs = [p.sequence_number for p in out]
    assert (seqs[1] - seqs[0]) & 0xFFFF == 1 and (seqs[2] - seqs[1]) & 0xFFFF == 1
    assert slot not in old.consumers and slot in new.consumers


async def test_audio_switches_on_next_packet_and_carries_level() -> None:
    old, _ = make_source("old", "audio")
    new, plis = make_source("new", "audio")
    slot = make_slot("audio", mid="2")
    slot.assign(old)
    old.on_packet(packet(1, 960, b"opus-a"))
    slot.assign(new)
    p = packet(9000, 5, b"opus-b")
    p.extensions.audio_level = (True, 30)
    new.on_packet(p)
    out = slot.output.sent
    assert len(out) == 2 and plis == []
    assert out[1].endswith(b"opus-b")
    ext = build_extension_block([(1, b"2"), (2, bytes([0x80 | 30]))])
    assert out[1][12:-6] == ext


async def test_keyframe_requests_are_throttled_per_source() -> None:
    source, plis = make_source("pub")
    source.on_packet(packet(1, 0, DELTA_START))
    source.request_keyframe(now=100.0)
    source.request_keyframe(now=100.2)  # outstanding: covered by the first
    source.request_keyframe(now=100.6)
    assert len(plis) == 2


async def test_one_failing_subscriber_does_not_starve_others() -> None:
    source, _ = make_source("pub")

    class Broken(FakeOutput):
        def send(self, *args: Any) -> bool:
            raise RuntimeError("replay check failed")

    bad = make_slot(output=Broken())
    good = make_slot(output=FakeOutput(ssrc=0x99))
    slow = make_slot(output=FakeOutput(ssrc=0x98, accept=False))
    for slot in (bad, slow, good):
        slot.assign(source)
    for i in range(5):
        source.on_packet(packet(100 + i, 3000 * i, KEY if i == 0 else DELTA_START))
    assert len(good.output.sent) == 5
    assert bad.errors == 5
    assert slow.dropped == 5 and slow.output.sent == []


async def test_not_ready_subscriber_resumes_at_keyframe() -> None:
    source, plis = make_source("pub")
    out = FakeOutput(ready=False)
    slot = make_slot(output=out)
    slot.assign(source)
    source.on_packet(packet(1, 0, KEY))
    source.on_packet(packet(2, 3000, DELTA_START))
    assert out.sent == [] and plis == []  # nobody to send to: no point asking
    out.ready = True
    source.on_packet(packet(3, 6000, DELTA_START))
    assert out.sent == [] and plis == [777]
    source.on_packet(packet(4, 9000, KEY))
    assert len(out.sent) == 1


async def test_detach_and_close() -> None:
    source, _ = make_source("pub")
    slot = make_slot()
    slot.assign(source)
    source.on_packet(packet(1, 0, KEY))
    slot.assign(None)
    source.on_packet(packet(2, 0, KEY))
    assert len(slot.output.sent) == 1 and source.consumers == []
    slot.assign(source)
    source.close()
    assert slot.current is None and slot.pending is None


async def test_mute_stops_and_resumes_at_keyframe() -> None:
    source, _ = make_source("pub")
    slot = make_slot()
    slot.assign(source)
    source.on_packet(packet(1, 0, KEY))
    source.set_muted(True)
    source.on_packet(packet(2, 3000, DELTA_START))
    source.set_muted(False)
    source.on_packet(packet(3, 6000, DELTA_START))
    source.on_packet(packet(4, 9000, KEY))
    assert [p.payload for p in slot.output.parsed()] == [KEY, with_picture_id(KEY, 0x502)]


async def test_new_publisher_ssrc_or_sequence_jump_resyncs_at_a_keyframe() -> None:
    source, _ = make_source("pub")
    slot = make_slot()
    slot.assign(source)
    source.on_packet(packet(100, 0, KEY))
    source.on_packet(packet(101, 3000, DELTA_START))
    source.on_packet(packet(40000, 6000, DELTA_START, ssrc=778))  # new SSRC: dropped
    source.on_packet(packet(40001, 9000, KEY, ssrc=778))
    source.on_packet(packet(40002, 12000, DELTA_START, ssrc=778))
    source.on_packet(packet(50000, 15000, DELTA_START, ssrc=778))  # jump ahead: dropped
    source.on_packet(packet(50001, 18000, KEY, ssrc=778))
    source.on_packet(packet(20000, 21000, DELTA_START, ssrc=778))  # jump back: dropped
    source.on_packet(packet(20001, 24000, KEY, ssrc=778))
    out = slot.output.parsed()
    assert [p.payload[4:] for p in out] == [
        x[4:] for x in (KEY, DELTA_START, KEY, DELTA_START, KEY, KEY)
    ]
    pids = [int.from_bytes(p.payload[2:4], "big") & 0x7FFF for p in out]
    assert pids == [0x501, 0x502, 0x503, 0x504, 0x505, 0x506]  # one stream to the decoder
    seqs = [p.sequence_number for p in out]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))


def layer_packet(rid: str | None, ssrc: int, seq: int, payload: bytes) -> Any:
    from media.packet import Extensions, Packet

    extensions = Extensions()
    extensions.rid = rid
    return Packet(96, 1, seq, seq * 3000, ssrc, payload, 0, extensions)


async def test_simulcast_layers_switch_at_keyframes_as_one_stream() -> None:
    plis: list[int] = []
    source = Source("pub", "video", send_pli=plis.append, rids=("q", "h", "f"))
    slot = make_slot()
    slot.assign(source)
    source.on_packet(layer_packet(None, 1, 9, KEY))  # no rid yet: its layer is unknown
    source.on_packet(layer_packet("q", 1, 10, KEY))
    source.on_packet(layer_packet("f", 3, 500, KEY))
    source.on_packet(layer_packet(None, 3, 501, DELTA_START))  # known by its SSRC now
    assert source.layer_of_ssrc == {1: 0, 3: 2}

    slot.set_want(0, time.monotonic())  # the link got weak: the lowest layer
    assert slot.target == 0 and plis[-1] == 1  # a keyframe asked of the q layer
    source.on_packet(layer_packet(None, 1, 11, DELTA_START))  # not a keyframe: not yet
    source.on_packet(layer_packet(None, 3, 502, DELTA_START))  # f goes on meanwhile
    source.on_packet(layer_packet(None, 1, 12, KEY))  # the cut
    source.on_packet(layer_packet(None, 3, 503, DELTA_START))  # f no longer forwarded
    source.on_packet(layer_packet(None, 1, 13, DELTA_START))
    out = slot.output.parsed()
    assert [p.payload[4:] for p in out] == [
        x[4:] for x in (KEY, DELTA_START, DELTA_START, KEY, DELTA_START)
    ]
    seqs = [p.sequence_number for p in out]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    pids = [int.from_bytes(p.payload[2:4], "big") & 0x7FFF for p in out]
    assert pids == [0x501, 0x502, 0x502, 0x503, 0x504]
    assert slot.layer == 0 and slot.layer_switches == 1


async def test_a_paused_slot_sends_nothing_and_resumes_at_a_keyframe() -> None:
    plis: list[int] = []
    source = Source("pub", "video", send_pli=plis.append, rids=("q", "f"))
    slot = make_slot()
    slot.assign(source)
    source.on_packet(layer_packet("q", 1, 10, KEY))
    source.on_packet(layer_packet("f", 3, 500, KEY))
    slot.set_want(-1, time.monotonic())
    source.on_packet(layer_packet(None, 3, 501, KEY))
    assert len(slot.output.sent) == 1 and slot.paused
    slot.set_want(0, time.monotonic())
    source.on_packet(layer_packet(None, 3, 502, KEY))  # the old layer's keyframe: not wanted
    source.on_packet(layer_packet(None, 1, 11, DELTA_START))
    source.on_packet(layer_packet(None, 1, 12, KEY))
    assert len(slot.output.sent) == 2 and slot.layer == 0


async def test_video_carries_abs_send_time_beside_its_mid() -> None:
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
    from aiortc.rtp import HeaderExtensionsMap

    from media.forwarder import ABS_SEND_TIME_URI

    output = FakeOutput()
    slot = OutSlot("sub", "video", "3", 0, output, 96, 90000, {MID_URI: 1, ABS_SEND_TIME_URI: 3})
    source, _ = make_source("pub")
    slot.assign(source)
    source.on_packet(packet(1, 0, KEY))
    source.on_packet(packet(2, 3000, DELTA_START))
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI),
                RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI),
            ]
        )
    )
    parsed = [RtpPacket.parse(p, extensions) for p in output.sent]
    assert [p.extensions.mid for p in parsed] == ["3", "3"]
    assert all(p.extensions.abs_send_time is not None for p in parsed)
    assert [p.payload[4:] for p in parsed] == [KEY[4:], DELTA_START[4:]]
