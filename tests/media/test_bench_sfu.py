"""bench/sfu.py's pure helpers (attempts, capacity, targets, the floor's packets) and the
guard that it measures what `interviewday serve` runs."""

from __future__ import annotations

import importlib
import inspect
import itertools
import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from media.synthetic import EncodedClip
from media.vp8 import vp8_packetize

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> Iterator[SimpleNamespace]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        modules = {
            name: importlib.import_module(module)
            for name, module in (
                ("served", "served"),
                ("floor", "sfu_floor"),
                ("server", "sfu_server"),
                ("stats", "sfu_stats"),
            )
        }
    finally:
        sys.path.remove(str(ROOT / "bench"))
    yield SimpleNamespace(**modules)


def attempt(stats: ModuleType, label: str = "A0", since: float = 10.0) -> Any:
    return stats.Attempt("app0", "3", "int0-0", label, since)


def test_an_attempt_counts_the_first_decoded_frame_of_its_source_after_it(
    bench: SimpleNamespace,
) -> None:
    a = attempt(bench.stats)
    assert a.delay_ms([(9.0, "A0"), (10.25, "I1"), (10.5, "A0")]) == 500.0
    assert a.delay_ms([(9.0, "A0"), (10.25, "I1")]) is None  # a miss
    assert a.delay_ms([(10.75, "A0"), (10.5, "A0")]) == 500.0  # decoded out of order


def test_every_attempt_is_settled_and_an_empty_p95_is_null(bench: SimpleNamespace) -> None:
    stats = bench.stats
    hit = stats.Attempt("a", "1", "b", "B", 1.0)
    miss = stats.Attempt("a", "3", "c", "C", 1.0)
    delays, misses = stats.settle([hit, miss], {("a", "1"): [(1.2, "B")]})
    assert [round(d) for d in delays] == [200] and misses == [miss]
    _, misses = stats.settle([miss], {})
    assert bench.served.p95([]) is None and misses == [miss]


def test_join_attempts_are_every_slot_showing_a_source_from_the_later_join(
    bench: SimpleNamespace,
) -> None:
    layouts = {"a": {"0": "b", "1": "b", "2": None, "3": "c"}, "b": {"1": "a"}}
    joined = {"a": 5.0, "b": 7.0, "c": 3.0}
    labels = {"a": "A", "b": "B", "c": "C"}
    attempts = bench.stats.join_attempts(layouts, {"a": ["1", "2", "3"]}, joined, labels)
    assert [(x.mid, x.label, x.since) for x in attempts] == [("1", "B", 7.0), ("3", "C", 5.0)]


def test_switch_attempts_are_slots_whose_source_changed(bench: SimpleNamespace) -> None:
    before = {"a": {"1": "b", "3": "c", "5": "d"}, "x": {"1": None}}
    after = {"a": {"1": "b", "3": "e", "5": "f"}, "x": {"1": "a"}}
    labels = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E", "f": "D"}
    mids = {"a": ["1", "3", "5"], "x": ["1"]}
    attempts, unseen = bench.stats.switch_attempts(before, after, mids, 9.0, labels)
    assert [(x.viewer, x.mid, x.source) for x in attempts] == [("a", "3", "e"), ("x", "1", "a")]
    assert unseen == 1  # d -> f: same size, no frame tells them apart


def step(stats: ModuleType, rooms: int, fps: float = 30.0, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "server_core": 0.5,
        "bots_core": 0.4,
        "slot_fps": [fps] * 40,
        "join_p95_ms": 400.0,
        "join_misses": 0,
    }
    values.update(fields)
    return stats.Step(rooms=rooms, **values)


def test_capacity_is_the_last_level_before_the_first_degraded_one(
    bench: SimpleNamespace,
) -> None:
    stats = bench.stats
    steps = [step(stats, 9), step(stats, 12), step(stats, 15, fps=20.0), step(stats, 18)]
    found = stats.capacity(steps, 30)
    assert found == stats.Capacity(12, "at 15 rooms: 100% of slots under 27 fps", False)
    slow_join = [step(stats, 9), step(stats, 12, join_p95_ms=700.0)]
    assert stats.capacity(slow_join, 30).rooms == 9
    missed = [step(stats, 9), step(stats, 12, join_misses=1)]
    assert "1 joins showed no frame" in stats.capacity(missed, 30).reason
    assert stats.capacity([step(stats, 9, join_p95_ms=None)], 30).rooms is None


def test_a_few_slow_slots_are_noise_but_more_than_five_percent_degrade(
    bench: SimpleNamespace,
) -> None:
    stats = bench.stats
    few = step(stats, 9, slot_fps=[30.0] * 96 + [10.0] * 4)
    many = step(stats, 9, slot_fps=[30.0] * 94 + [10.0] * 6)
    assert stats.degraded(few, 30) is None
    assert stats.degraded(many, 30) == "6% of slots under 27 fps"
    assert stats.low_fps_share([], 30) == 1.0


def test_capacity_limited_by_the_bots_the_machine_or_the_levels_tried_is_a_lower_bound(
    bench: SimpleNamespace,
) -> None:
    stats = bench.stats
    busy = stats.capacity([step(stats, 9), step(stats, 12, fps=10.0, bots_core=0.95)], 30)
    assert busy.rooms == 9 and busy.lower_bound and "the bots at 95% of their core" in busy.reason
    untried = stats.capacity([step(stats, 9), step(stats, 12)], 30)
    assert untried.rooms == 12 and untried.lower_bound
    starved = stats.capacity([step(stats, 9), step(stats, 12, fps=10.0, server_wait=0.3)], 30)
    assert starved.rooms == 9 and starved.lower_bound
    assert "other processes held the CPUs (server waited 30%" in starved.reason


def test_per_extra_needs_two_levels(bench: SimpleNamespace) -> None:
    assert bench.stats.per_extra(0.3, 1, 0.7, 3) == pytest.approx(0.2)
    assert bench.stats.per_extra(0.3, 3, 0.7, 3) is None


def test_missed_targets_fail_on_misses_and_on_null_or_slow_p95(bench: SimpleNamespace) -> None:
    stats = bench.stats
    good = {
        "join_misses": 0,
        "switch_misses": 0,
        "join_first_frame_p95_ms": 650.0,
        "switch_first_frame_p95_ms": 120.0,
        "ratio_to_limit": 9.0,
        "simulcast": False,  # the ratio's target is set for simulcast on
    }
    assert stats.missed_targets(good) == []
    assert stats.missed_targets({**good, "simulcast": True}) == [
        "ratio_to_limit = 9.0 (target <= 3)"
    ]
    bad = {**good, "switch_misses": 2, "join_first_frame_p95_ms": None}
    assert stats.missed_targets(bad) == [
        "switch_misses = 2 (target 0)",
        "join_first_frame_p95_ms = None (target < 700)",
    ]
    assert stats.missed_targets({**good, "switch_first_frame_p95_ms": 300.0}) == [
        "switch_first_frame_p95_ms = 300.0 (target < 300)"
    ]


def test_the_floors_packets_are_what_a_subscriber_receives(
    bench: SimpleNamespace, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip
) -> None:
    video = [video_clips["a"], video_clips["b"]]
    packets = bench.floor.forwarded_packets(video, audio_clip, 3000)
    assert len(packets) == 3000
    by_ssrc: dict[int, list[tuple[int, int]]] = {}
    for packet in packets:
        first, second, seq, _, ssrc = struct.unpack_from("!BBHII", packet)
        assert first == 0x90  # version 2 with the slot's header extension
        by_ssrc.setdefault(ssrc, []).append((second & 0x7F, seq))
    assert len(by_ssrc) == 4  # two slots of audio + video
    for stream in by_ssrc.values():
        seqs = [seq for _, seq in stream]
        assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    audio = [s for s in by_ssrc.values() if s[0][0] == bench.floor.AUDIO_PT]
    # 50 audio frames a second per slot against the video packets of 30 frames
    video_packets = len(packets) - sum(len(s) for s in audio)
    per_frame = sum(len(vp8_packetize(f, 0)) for c in video for f in c.frames) / 60
    assert len(audio) == 2
    assert 0.5 < video_packets / sum(len(s) for s in audio) / (30 * per_frame / 50) < 2


def test_the_floor_protects_and_sends_every_packet(
    bench: SimpleNamespace, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip
) -> None:
    drain = bench.floor.Drain(cpu=min(os.sched_getaffinity(0)))
    try:
        packets = bench.floor.forwarded_packets([video_clips["a"]], audio_clip, 200)
        seconds, failed = bench.floor.protect_and_send(packets, drain.address)
        assert seconds > 0 and failed == 0
    finally:
        drain.close()


def test_the_bench_runs_the_sfu_as_serve_builds_it(
    bench: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web import live
    from web.keys import CLOCK, SETTINGS

    class Built(Exception):
        pass

    seen: dict[str, Any] = {}

    def record(*args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise Built

    monkeypatch.setattr(live, "Sfu", record)
    app: Any = web.Application()  # only what build_socketio reads before the Sfu
    app[SETTINGS] = SimpleNamespace(ice_servers=[])
    app[CLOCK] = None
    with pytest.raises(Built):
        live.build_socketio(app, None)
    assert seen == bench.server.SHIPPED_SFU_OPTIONS


def test_serve_runs_a_plain_asyncio_loop_as_the_bench_does() -> None:
    from web import cli

    # aiohttp's run_app without a loop argument makes a plain asyncio loop; the bench's
    # server (asyncio.run) does the same unless --coalesce-ms asks otherwise.
    assert "loop=" not in inspect.getsource(cli._serve)
    uses_coalescing = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "web").rglob("*.py")
        if "media.loop" in path.read_text() or "from media import loop" in path.read_text()
    ]
    assert uses_coalescing == []


def test_packets_are_priced_where_the_server_was_busiest_and_the_bots_kept_up(
    bench: SimpleNamespace,
) -> None:
    stats = bench.stats

    def level(rooms: int, server: float, bots: float, fps: float = 30.0) -> Any:
        step = stats.Step(rooms, server, bots, [fps] * 12, 300.0, 0)
        return (rooms, SimpleNamespace(core_fraction=server), step)

    levels = [
        level(3, 0.12, 0.2),
        level(9, 0.26, 0.5),
        level(18, 0.47, 0.85),
        level(24, 0.56, 0.99),
    ]
    assert stats.busiest(levels, 30.0)[0] == 18  # 24: the bots' own limit
    levels.append(level(21, 0.52, 0.8, fps=10.0))  # degraded: not a fair price either
    assert stats.busiest(levels, 30.0)[0] == 18
