"""SFU benchmark: the SFU as `serve` runs it, against its floor and aiortc's MediaRelay.

Run: .venv/bin/python bench/sfu.py [--rooms 9] [--seconds 10] [--max-rooms 30]

Rooms of 1 applicant + 3 interviewers, each publishing 640x480 VP8 at 30 fps plus Opus, each
receiving the other three on fixed slots. The server (bench/sfu_server.py: the Sfu with the
options and the plain asyncio loop `interviewday serve` uses) runs in a process pinned to
CPU 0, the bots in this process pinned to CPU 1; they talk over a JSON-lines TCP socket (the
signaling stand-in). Phases, in one run:

1. the floor (bench/sfu_floor.py): the same packets through SRTP protect + `sendto` in a
   tight loop on the server's CPU, before the SFU runs and again after it (the lower counts);
2. joins of a light then the full load, with a measurement window at each (server CPU per
   forwarded packet; the difference is the marginal cost per subscriber); every video slot
   that shows a source is a join attempt, timed to the first frame its VP8 decoder produced.
   The cost per forwarded packet (`us_per_forwarded_packet`, `ratio_to_limit`) is taken at
   the busiest level measured (this one or the capacity search's) where the bots kept up
   and nothing degraded (`busiest`; `priced_at_rooms` says which);
3. rotations of the applicants: every slot whose source changed is a switch attempt;
4. capacity (`rooms_per_core`): from the light and full loads on, rooms added a few at a
   time until the received frame rate or the join time degrades; the bots' CPU (their own
   core) and the time both sides waited for a CPU other processes held are watched, and
   when they may explain the degradation the figure is marked a lower bound;
5. the MediaRelay baseline (decode once, encode per subscriber) at 1 and at N subscribers:
   its cost per extra subscriber against ours.

A join or switch that shows no frame by its deadline is a miss: counted in the JSON, and the
run fails. The last line printed is JSON; empty percentiles are null. Exit status 1 when a
target is missed (misses, join and switch p95, and `ratio_to_limit` ≤ 3 with simulcast on:
the bots publish three layers, as the browsers do, unless `--no-simulcast`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from served import p95  # noqa: E402
from sfu_floor import measure_floor  # noqa: E402
from sfu_rooms import (  # noqa: E402
    APPLICANT_SIZES,
    FPS,
    INTERVIEWER_SIZES,
    Rooms,
    encode_clips,
    log,
)
from sfu_server import SERVER_CPU, SHIPPED_SFU_OPTIONS, Server, run_queue_wait  # noqa: E402
from sfu_stats import (  # noqa: E402
    RATIO_TO_LIMIT_TARGET,
    Attempt,
    Capacity,
    Step,
    busiest,
    capacity,
    degraded,
    missed_targets,
    not_the_servers,
    per_extra,
)

from media.pacer import Pacer  # noqa: E402
from media.synthetic import EncodedClip, SyntheticParticipant  # noqa: E402

BOT_CPU = 1


class Window:
    """Server CPU and forwarded packets between two samples."""

    def __init__(self, start: dict[str, Any], end: dict[str, Any]) -> None:
        self.cpu = end["cpu"] - start["cpu"]
        self.wall = end["wall"] - start["wall"]
        self.packets = end["fwd"] - start["fwd"]
        self.wait = end["wait"] - start["wait"]
        self.bots_cpu = 0.0
        self.bots_wait = 0.0

    @property
    def wait_fraction(self) -> float:
        """Share of the window the server waited, runnable, for a CPU others had."""
        return float(self.wait / self.wall)

    @property
    def bots_core(self) -> float:
        return float(self.bots_cpu / self.wall)

    @property
    def bots_wait_fraction(self) -> float:
        return float(self.bots_wait / self.wall)

    @property
    def core_fraction(self) -> float:
        return float(self.cpu / self.wall)

    @property
    def packet_rate(self) -> float:
        return float(self.packets / self.wall)

    @property
    def us_per_packet(self) -> float:
        return float(self.cpu / max(1, self.packets) * 1e6)


async def measure(server: Server, seconds: float) -> Window:
    """The server's window, with the bots' CPU and wait over the same time."""
    bots_cpu, bots_wait = time.process_time(), run_queue_wait()
    start = await server.call("sample")
    await asyncio.sleep(seconds)
    end = await server.call("sample")
    window = Window(start, end)
    window.bots_cpu = time.process_time() - bots_cpu
    window.bots_wait = run_queue_wait() - bots_wait
    return window


def report(name: str, window: Window) -> None:
    log(
        f"{name}: server {window.core_fraction:.1%} of a core, {window.packet_rate:.0f} "
        f"forwarded packets/s, {window.us_per_packet:.1f} us/packet; bots "
        f"{window.bots_core:.1%} of their core; waiting for a CPU others held: server "
        f"{window.wait_fraction:.1%}, bots {window.bots_wait_fraction:.1%} of the time"
    )


async def level(
    run: Rooms, seconds: float, delays: list[float], misses: list[Attempt]
) -> tuple[Window, Step]:
    """Measures the current load: the server's window and the capacity search's step."""
    window = await measure(run.server, seconds)
    report(f"{run.count} rooms", window)
    step = Step(
        run.count,
        window.core_fraction,
        window.bots_core,
        run.slot_fps(seconds),
        p95(delays),
        len(misses),
        window.wait_fraction,
        window.bots_wait_fraction,
    )
    fps = step.slot_fps or [0.0]
    log(f"received video fps per slot: median {statistics.median(fps):.1f}, min {min(fps):.1f}")
    return window, step


@dataclass
class SfuRun:
    window: Window
    priced: tuple[int, Window]
    """(rooms, window) where the cost per forwarded packet is taken (`busiest`)."""
    ours_per_pair: float | None
    """Server share per extra (subscriber, publisher) pair, between the light and full load."""
    join_ms: list[float]
    join_misses: list[Attempt]
    switch_ms: list[float]
    switch_misses: list[Attempt]
    capacity: Capacity


async def run_sfu(
    args: argparse.Namespace, clips: dict[Any, EncodedClip], audio: EncodedClip
) -> SfuRun:
    server = Server("sfu", args.coalesce_ms, args.keyframe_interval)
    await server.open()
    run = Rooms(server, clips, audio, simulcast=not args.no_simulcast)
    rooms = args.rooms
    join_ms: list[float] = []
    join_missed: list[Attempt] = []
    light = max(3, rooms // 3 // 3 * 3) if rooms > 3 else 0
    light_window = None
    steps: list[Step] = []  # the capacity search's levels, from the light load on
    levels: list[tuple[int, Window, Step]] = []
    if light:
        delays, misses = await run.add_rooms(light)
        join_ms += delays
        join_missed += misses
        light_window, step = await level(run, args.seconds / 2, delays, misses)
        steps.append(step)
        levels.append((run.count, light_window, step))
    delays, misses = await run.add_rooms(rooms - light)
    join_ms += delays
    join_missed += misses
    window, step = await level(run, args.seconds, delays, misses)
    levels.append((run.count, window, step))
    if step.median_fps() < 0.8 * FPS:
        log("WARNING: bots did not keep up (busy machine?): numbers below are not meaningful")
    steps.append(step)
    ours_per_pair = None
    if light_window is not None:
        extra_packets = window.packet_rate - light_window.packet_rate
        if extra_packets > 0:
            marginal = (window.core_fraction - light_window.core_fraction) / extra_packets * 1e6
            log(f"marginal cost: {marginal:.1f} us per forwarded packet")
        ours_per_pair = per_extra(
            light_window.core_fraction, light * 12, window.core_fraction, rooms * 12
        )

    switch_ms: list[float] = []
    switch_missed: list[Attempt] = []
    for rotation in range(1, args.rotations + 1):
        # Rotations are minutes apart on interview day: this one's keyframe requests must not
        # be throttled by the last one's (one per source per keyframe interval).
        await asyncio.sleep(1)
        delays, misses = await run.rotate(rotation, rooms)
        switch_ms += delays
        switch_missed += misses

    while run.count + args.room_step <= args.max_rooms:
        if capacity(steps, FPS).rooms != steps[-1].rooms:
            break  # the last level degraded
        delays, misses = await run.add_rooms(args.room_step)
        await asyncio.sleep(1)  # the new rooms' first keyframes out of the window
        step_window, step = await level(run, args.step_seconds, delays, misses)
        if degraded(step, FPS) and not_the_servers(step) and not step.join_misses:
            log("degraded, but maybe not by the server: measuring this level once more")
            step_window, step = await level(run, args.step_seconds, delays, misses)
        steps.append(step)
        levels.append((run.count, step_window, step))
    found = capacity(steps, FPS)
    log(
        f"capacity: {found.rooms} rooms on the server's one core ({found.reason}"
        + ("; a lower bound: the server may carry more)" if found.lower_bound else ")")
    )
    await run.close()
    await server.stop()
    priced = busiest(levels, FPS)
    log(
        f"priced at {priced[0]} rooms: server {priced[1].core_fraction:.1%} of a core, "
        f"{priced[1].us_per_packet:.1f} us/packet ({window.us_per_packet:.1f} at {rooms} rooms)"
    )
    return SfuRun(
        window,
        priced,
        ours_per_pair,
        join_ms,
        join_missed,
        switch_ms,
        switch_missed,
        found,
    )


async def run_baseline(
    args: argparse.Namespace, clip: EncodedClip, audio: EncodedClip
) -> float | None:
    """MediaRelay's server share with 1 subscriber and with N: the cost of each extra one."""
    server = Server("baseline")
    await server.open()
    pacer = Pacer()
    publisher = SyntheticParticipant(clip, audio, slots=0, pacer=pacer)
    reply = await server.call("add", sdp=await publisher.create_offer(), publish=True)
    await publisher.accept_answer(reply["sdp"])
    await asyncio.sleep(1)
    subscribers: list[SyntheticParticipant] = []
    cores: dict[int, float] = {}
    for count in (1, args.baseline_subscribers):
        while len(subscribers) < count:
            bot = SyntheticParticipant(None, None, slots=1)
            reply = await server.call("add", sdp=await bot.create_offer(), publish=False)
            await bot.accept_answer(reply["sdp"])
            subscribers.append(bot)
        await asyncio.sleep(2)
        window = await measure(server, args.baseline_seconds)
        cores[count] = window.core_fraction
        log(f"baseline, {count} subscribers: server {window.core_fraction:.1%} of a core")
        if window.core_fraction > 0.95:
            log("WARNING: the baseline server is saturated: its cost per subscriber is low")
    for bot in [publisher, *subscribers]:
        await bot.close()
    await pacer.close()
    await server.stop()
    return per_extra(cores[1], 1, cores[args.baseline_subscribers], args.baseline_subscribers)


def video_clips_for_floor(clips: dict[Any, EncodedClip]) -> list[EncodedClip]:
    """What an applicant receives: its room's three interviewers (here one of each size)."""
    return [clips[size] for size in INTERVIEWER_SIZES]


def share(fraction: float | None) -> str:
    return "unmeasured" if fraction is None else f"{fraction:.2%} of a core"


def floor(clips: dict[Any, EncodedClip], audio: EncodedClip, when: str) -> float:
    result = measure_floor(video_clips_for_floor(clips), audio, SERVER_CPU, BOT_CPU)
    log(
        f"floor {when}: {result.us_per_packet:.2f} us/packet (SRTP protect + sendto, best of "
        f"{result.repeats_us}; {result.received}/{result.sent} datagrams drained)"
    )
    return result.us_per_packet


async def main(args: argparse.Namespace) -> int:
    if args.rooms % 3 or args.room_step % 3:
        raise SystemExit("--rooms and --room-step must be multiples of 3")
    if args.baseline_subscribers < 2:
        raise SystemExit("--baseline-subscribers must be at least 2")
    load = os.getloadavg()[0]
    log(
        f"load average {load:.2f} on {os.cpu_count()} CPUs"
        + (" (busy machine: expect noise; compare ratios, not figures)" if load > 0.5 else "")
    )
    options = dict(SHIPPED_SFU_OPTIONS)
    if args.keyframe_interval is not None:
        options["keyframe_interval"] = args.keyframe_interval
    shipped = options == SHIPPED_SFU_OPTIONS and args.coalesce_ms == 0
    log(
        f"server: Sfu({options}) on a "
        + (f"coalescing loop ({args.coalesce_ms} ms)" if args.coalesce_ms else "plain asyncio loop")
        + (" = as `serve` runs it" if shipped else " (NOT the shipped configuration)")
    )
    log("encoding clips")
    clips, audio = encode_clips()
    os.sched_setaffinity(0, {BOT_CPU})
    limits = [floor(clips, audio, "before")]
    sfu = await run_sfu(args, clips, audio)
    limits.append(floor(clips, audio, "after"))
    base_per_subscriber = None
    if args.baseline_seconds > 0:
        log("baseline: MediaRelay, decode once and encode per subscriber")
        base_per_subscriber = await run_baseline(args, clips[APPLICANT_SIZES[0]], audio)
    window = sfu.window
    priced_rooms, priced = sfu.priced
    limit = min(limits)
    ours = sfu.ours_per_pair
    result: dict[str, Any] = {
        "us_per_forwarded_packet": round(priced.us_per_packet, 1),
        "limit_us_per_packet": round(limit, 2),
        "ratio_to_limit": round(priced.us_per_packet / limit, 1),
        "priced_at_rooms": priced_rooms,
        "priced_server_core": round(priced.core_fraction, 2),
        "us_per_forwarded_packet_at_full_load": round(window.us_per_packet, 1),
        "simulcast": not args.no_simulcast,
        "rooms_per_core": sfu.capacity.rooms,
        "rooms_per_core_is_lower_bound": sfu.capacity.lower_bound,
        "baseline_ratio": (
            round(base_per_subscriber / ours, 1) if base_per_subscriber and ours else None
        ),
        "join_first_frame_p95_ms": p95(sfu.join_ms),
        "join_attempts": len(sfu.join_ms) + len(sfu.join_misses),
        "join_misses": len(sfu.join_misses),
        "switch_first_frame_p95_ms": p95(sfu.switch_ms),
        "switch_attempts": len(sfu.switch_ms) + len(sfu.switch_misses),
        "switch_misses": len(sfu.switch_misses),
        "shipped_config": shipped,
        # Shares of the full-load window spent runnable but off the CPU (others had it): how
        # much the machine, not the SFU, shaped these figures.
        "server_waited_for_cpu": round(window.wait_fraction, 2),
        "bots_waited_for_cpu": round(window.bots_wait_fraction, 2),
    }
    log(
        f"per extra subscriber (one publisher's audio+video): ours {share(ours)} "
        f"(its publisher's share included), MediaRelay {share(base_per_subscriber)}"
    )
    log(
        f"ratio to the floor {result['ratio_to_limit']} (target <= {RATIO_TO_LIMIT_TARGET:.0f} "
        "with simulcast on)"
    )
    log(f"load average at the end {os.getloadavg()[0]:.2f}")
    missed = missed_targets(result)
    for line in missed:
        log(f"TARGET MISSED: {line}")
    print(json.dumps(result), flush=True)
    return 1 if missed else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=9, help="the full load (a multiple of 3)")
    parser.add_argument("--seconds", type=float, default=10, help="full-load window")
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument(
        "--max-rooms", type=int, default=30, help="capacity search: stop adding rooms here"
    )
    parser.add_argument("--room-step", type=int, default=3, help="capacity search: rooms a step")
    parser.add_argument(
        "--step-seconds", type=float, default=4, help="capacity search: window a step"
    )
    parser.add_argument(
        "--baseline-subscribers",
        type=int,
        default=3,
        help="MediaRelay baseline: measured at 1 and at this many subscribers",
    )
    parser.add_argument(
        "--no-simulcast",
        action="store_true",
        help="bots publish one stream, not three layers (an experiment: not what browsers do)",
    )
    parser.add_argument("--baseline-seconds", type=float, default=6, help="0 skips the baseline")
    parser.add_argument(
        "--coalesce-ms",
        type=float,
        default=0.0,
        help="experiment: media/loop.py's coalescing loop on the server (serve does not use it)",
    )
    parser.add_argument(
        "--keyframe-interval",
        type=float,
        help=f"experiment: instead of serve's {SHIPPED_SFU_OPTIONS['keyframe_interval']} s",
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
