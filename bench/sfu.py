"""SFU benchmark: RTP forwarding vs aiortc's MediaRelay re-encoding baseline.

Run: .venv/bin/python bench/sfu.py [--rooms 9] [--seconds 20]

Rooms of 1 applicant + 3 interviewers, each publishing 640x480 VP8 at 30 fps plus Opus, each
receiving the other three on fixed slots. The server runs in a subprocess pinned to CPU 0,
the bots in this process pinned to CPU 1; they talk over a JSON-lines TCP socket (the
signaling stand-in). Phases: join (join-to-first-frame), steady state (server CPU per
forwarded packet), rotations of the applicants (switch-to-first-frame), then the MediaRelay
baseline (1 publisher, 2 subscribers: a load one core survives).

The last line printed is JSON with the headline numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from served import p95  # noqa: E402

from media.pacer import Pacer  # noqa: E402
from media.synthetic import (  # noqa: E402
    EncodedClip,
    SyntheticParticipant,
    encode_opus_clip,
    encode_vp8_clip,
)

SERVER_CPU = 0
BOT_CPU = 1
FPS = 30
CLIP_FRAMES = 150  # one keyframe every 5 s of replay, besides those asked for
# Three sizes per role: a rotation always changes the size a slot shows, so a receiver can
# tell the new source from the old without decoding (rooms must be a multiple of 3).
APPLICANT_SIZES = [(640, 480), (624, 480), (608, 480)]
INTERVIEWER_SIZES = [(640, 464), (624, 464), (608, 464)]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- server side


class RelayBaseline:
    """aiortc's documented fan-out: decode once, MediaRelay, encode per subscriber."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.tracks: dict[str, Any] = {}
        self.pcs: list[Any] = []

    def _pc(self) -> Any:
        from aiortc import RTCConfiguration, RTCPeerConnection
        from aiortc.rtcconfiguration import RTCBundlePolicy

        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pcs.append(pc)
        return pc

    async def add(self, offer: str, publish: bool) -> str:
        from aiortc import RTCSessionDescription

        pc = self._pc()
        if publish:
            pc.on("track", lambda track: self.tracks.__setitem__(track.kind, track))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for t in pc.getTransceivers():
            if t._offerDirection == "sendonly" and not publish and t.kind in self.tracks:
                t.direction = "sendonly"
                t.sender.replaceTrack(self.relay.subscribe(self.tracks[t.kind]))
            elif not publish or t._offerDirection == "sendonly":
                t.direction = "inactive"
        await pc.setLocalDescription(await pc.createAnswer())
        answer: str = pc.localDescription.sdp
        return answer

    async def forwarded(self) -> int:
        total = 0
        for pc in self.pcs:
            for sender in pc.getSenders():
                if sender.track is None:
                    continue
                for stats in (await sender.getStats()).values():
                    if stats.type == "outbound-rtp":
                        total += stats.packetsSent
        return total


async def serve(mode: str, keyframe_interval: float) -> None:
    os.sched_setaffinity(0, {SERVER_CPU})
    from media.sfu import Sfu

    sfu = Sfu(keyframe_interval=keyframe_interval)
    baseline = RelayBaseline() if mode == "baseline" else None
    layouts: dict[str, dict[str, str | None]] = {}
    profiler = None
    if os.environ.get("BENCH_PROFILE"):  # where the server's time goes: cProfile dump
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    sfu.on_layout = lambda pid, layout: layouts.__setitem__(pid, layout)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            op = request["op"]
            reply: dict[str, Any] = {}
            if op == "add" and baseline is None:
                reply["sdp"] = await sfu.add_participant(
                    request["id"], request["sdp"], request["room"]
                )
                reply["layout"] = layouts.get(request["id"], {})
            elif op == "add":
                assert baseline is not None
                reply["sdp"] = await baseline.add(request["sdp"], request["publish"])
            elif op == "route":
                reply["t"] = time.monotonic()
                for pid, room in request["moves"]:
                    sfu.route(pid, room)
            elif op == "sample":
                forwarded = 0
                if baseline is None:
                    forwarded = sum(s.packets_out for s in sfu.all_stats().values())
                else:
                    forwarded = await baseline.forwarded()
                reply = {"cpu": time.process_time(), "wall": time.monotonic(), "fwd": forwarded}
            elif op == "quit":
                writer.write(b"{}\n")
                await writer.drain()
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(os.environ["BENCH_PROFILE"] + f".{mode}")
                await sfu.close()
                os._exit(0)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


# --------------------------------------------------------------------------- bot side


class Server:
    def __init__(self, mode: str, coalesce_ms: float = 0, keyframe_interval: float = 0.5):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                mode,
                "--coalesce-ms",
                str(coalesce_ms),
                "--keyframe-interval",
                str(keyframe_interval),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError("server did not start")
        self.port = int(ready[1])
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        async with self.lock:
            self.writer.write(json.dumps({"op": op, **fields}).encode() + b"\n")
            await self.writer.drain()
            reply: dict[str, Any] = json.loads(await self.reader.readline())
            return reply

    async def stop(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, json.JSONDecodeError):
            await asyncio.wait_for(self.call("quit"), 5)
        self.writer.close()
        self.proc.wait(timeout=10)


def _encode(args: tuple[int, int]) -> EncodedClip:
    return encode_vp8_clip(args[0], args[1], frames=CLIP_FRAMES, fps=FPS, bitrate=600_000)


def encode_clips() -> tuple[dict[tuple[int, int], EncodedClip], EncodedClip]:
    clips = {size: _encode(size) for size in APPLICANT_SIZES + INTERVIEWER_SIZES}
    return clips, encode_opus_clip(frames=50)


class Window:
    """Server CPU and forwarded packets between two samples."""

    def __init__(self, start: dict[str, Any], end: dict[str, Any]) -> None:
        self.cpu = end["cpu"] - start["cpu"]
        self.wall = end["wall"] - start["wall"]
        self.packets = end["fwd"] - start["fwd"]

    @property
    def core_fraction(self) -> float:
        return self.cpu / self.wall

    @property
    def us_per_packet(self) -> float:
        return self.cpu / max(1, self.packets) * 1e6


async def measure(server: Server, seconds: float) -> tuple[Window, float]:
    bot_cpu = time.process_time()
    start = await server.call("sample")
    await asyncio.sleep(seconds)
    end = await server.call("sample")
    window = Window(start, end)
    return window, (time.process_time() - bot_cpu) / window.wall


async def run_sfu(args: argparse.Namespace, clips: dict[Any, EncodedClip], audio: EncodedClip):
    labels = {size: f"A{i}" for i, size in enumerate(APPLICANT_SIZES)}
    labels.update({size: f"I{i}" for i, size in enumerate(INTERVIEWER_SIZES)})
    server = Server("sfu", args.coalesce_ms, args.keyframe_interval)
    await server.open()
    rooms = args.rooms
    # Bots publish through one pacer (one timer, the SFU's own send path): aiortc's sender
    # would make the bots, not the server, the bottleneck.
    pacer = Pacer()
    bots: dict[str, SyntheticParticipant] = {}
    join_ms: list[float] = []
    connect_ms: list[float] = []

    async def join(first: int, last: int) -> None:
        log(f"joining rooms {first}..{last - 1} (4 participants each)")
        marks: list[tuple[str, str, float]] = []  # bot, mid, join start
        for r in range(first, last):
            members = [(f"int{r}-{k}", INTERVIEWER_SIZES[r % 3]) for k in range(3)]
            members.append((f"app{r}", APPLICANT_SIZES[r % 3]))
            for pid, size in members:
                bot = SyntheticParticipant(clips[size], audio, slots=3, labels=labels, pacer=pacer)
                started = time.monotonic()
                bot.pc.on(
                    "connectionstatechange",
                    lambda pc=bot.pc, t0=started: (
                        pc.connectionState == "connected"
                        and connect_ms.append((time.monotonic() - t0) * 1000)
                    ),
                )
                offer = await bot.create_offer()
                reply = await server.call("add", id=pid, room=f"room{r}", sdp=offer)
                await bot.accept_answer(reply["sdp"])
                bots[pid] = bot
                for mid, source in reply["layout"].items():
                    if source is not None and bot.counter.slots[mid].kind == "video":
                        marks.append((pid, mid, started))
        await asyncio.sleep(3)
        seen = [bots[pid].counter.slots[mid].changes for pid, mid, _ in marks]
        join_ms.extend(
            (changes[0][0] - started) * 1000
            for changes, (_, _, started) in zip(seen, marks, strict=True)
            if changes
        )
        connected = sum(1 for b in bots.values() if b.pc.connectionState == "connected")
        log(
            f"{connected}/{len(bots)} connected (p95 {p95(connect_ms)} ms after the offer); "
            f"join-to-first-frame p95 {p95(join_ms)} ms "
            f"(n={len(join_ms)}, never: {sum(1 for c in seen if not c)})"
        )

    def report(window: Window, bot_core: float) -> None:
        log(
            f"server {window.core_fraction:.1%} of a core, {window.packets / window.wall:.0f} "
            f"forwarded packets/s, {window.us_per_packet:.1f} us/packet; "
            f"bots {bot_core:.1%} of a core"
        )

    # Two load levels: the difference gives the marginal cost, free of fixed costs.
    light = max(3, rooms // 3 // 3 * 3) if rooms > 3 else 0
    light_window = None
    if light:
        await join(0, light)
        log(f"light load ({light} rooms): measuring {args.seconds / 2:.0f} s")
        light_window, bot_core = await measure(server, args.seconds / 2)
        report(light_window, bot_core)
    await join(light, rooms)
    log(f"full load ({rooms} rooms): measuring {args.seconds:.0f} s")
    window, bot_core = await measure(server, args.seconds)
    report(window, bot_core)
    pairs = rooms * 12  # (subscriber, publisher) pairs: 4 members x 3 others
    consumers = pairs * 2  # one audio and one video stream each
    if light_window is not None:
        extra_cpu = window.core_fraction - light_window.core_fraction
        extra_packets = window.packets / window.wall - light_window.packets / light_window.wall
        if extra_packets > 0:
            log(f"marginal cost: {extra_cpu / extra_packets * 1e6:.1f} us per forwarded packet")
    fps = []
    for bot in bots.values():
        for count in bot.counter.slots.values():
            if count.kind == "video" and count.label:
                recent = [t for t in count.frame_times if t >= time.monotonic() - 2]
                fps.append(len(recent) / 2)
    log(f"received video fps per slot: median {statistics.median(fps):.1f}, min {min(fps):.1f}")
    if statistics.median(fps) < 0.8 * FPS:
        log("WARNING: bots did not keep up (busy machine?): numbers below are not meaningful")

    switch_ms: list[float] = []
    for rotation in range(1, args.rotations + 1):
        moves = [(f"app{r}", f"room{(r + rotation) % rooms}") for r in range(rooms)]
        reply = await server.call("route", moves=moves)
        t_switch = reply["t"]
        await asyncio.sleep(1.5)
        for r in range(rooms):
            room = (r + rotation) % rooms
            expected = {f"app{r}": f"I{room % 3}"}
            expected.update({f"int{room}-{k}": f"A{r % 3}" for k in range(3)})
            for pid, label in expected.items():
                for count in bots[pid].counter.slots.values():
                    hit = [t for t, lab in count.changes if t >= t_switch and lab == label]
                    if hit:
                        switch_ms.append((hit[0] - t_switch) * 1000)
        if os.environ.get("BENCH_DEBUG"):
            kf = {
                pid: [st.keyframe_requests for st in bots[pid].streams if st.kind == "video"]
                for pid in (f"app{rooms - 1}", f"app{rooms - 2}", "int0-0", "int0-1")
            }
            log(f"debug keyframe requests seen by bots: {kf}")
            for pid in (f"app{rooms - 1}", "int0-0"):
                changes = {
                    mid: [(round((t - t_switch) * 1000), lab) for t, lab in c.changes[-3:]]
                    for mid, c in bots[pid].counter.slots.items()
                    if c.kind == "video"
                }
                log(f"debug {pid}: {changes}")
        log(
            f"rotation {rotation}: switch-to-first-frame p95 so far {p95(switch_ms)} ms "
            f"(n={len(switch_ms)})"
        )
    expected_switches = args.rotations * rooms * 6
    if len(switch_ms) < expected_switches:
        log(f"WARNING: {expected_switches - len(switch_ms)} switches never showed a frame")

    for bot in bots.values():
        await bot.close()
    await pacer.close()
    await server.stop()
    return window, consumers, pairs, join_ms, switch_ms


async def run_baseline(args: argparse.Namespace, clip: EncodedClip, audio: EncodedClip):
    server = Server("baseline")
    await server.open()
    pacer = Pacer()
    publisher = SyntheticParticipant(clip, audio, slots=0, pacer=pacer)
    reply = await server.call("add", sdp=await publisher.create_offer(), publish=True)
    await publisher.accept_answer(reply["sdp"])
    await asyncio.sleep(1)
    subscribers = []
    for _ in range(args.baseline_subscribers):
        bot = SyntheticParticipant(None, None, slots=1)
        reply = await server.call("add", sdp=await bot.create_offer(), publish=False)
        await bot.accept_answer(reply["sdp"])
        subscribers.append(bot)
    await asyncio.sleep(3)
    window, _ = await measure(server, args.baseline_seconds)
    frames = [c.frames for b in subscribers for c in b.counter.slots.values() if c.kind == "video"]
    log(
        f"baseline: {args.baseline_subscribers} subscribers, server {window.core_fraction:.1%} "
        f"of a core, {window.us_per_packet:.0f} us/packet, video frames received {frames}"
    )
    for bot in [publisher, *subscribers]:
        await bot.close()
    await pacer.close()
    await server.stop()
    return window


async def main(args: argparse.Namespace) -> None:
    if args.rooms % 3:
        raise SystemExit("--rooms must be a multiple of 3")
    load = os.getloadavg()[0]
    log(
        f"load average {load:.2f} on {os.cpu_count()} CPUs"
        + (" (busy machine: expect noise)" if load > 0.5 else "")
    )
    log("encoding clips")
    clips, audio = encode_clips()
    os.sched_setaffinity(0, {BOT_CPU})
    window, consumers, pairs, join_ms, switch_ms = await run_sfu(args, clips, audio)
    ours_per_pair = window.core_fraction / pairs
    base_per_pair: float | None = None
    if args.baseline_seconds > 0:
        log("baseline: MediaRelay, decode once and encode per subscriber")
        base = await run_baseline(args, clips[APPLICANT_SIZES[0]], audio)
        base_per_pair = base.core_fraction / args.baseline_subscribers
    result = {
        "us_per_forwarded_packet": round(window.us_per_packet, 1),
        "consumers_per_core": round(consumers / window.core_fraction),
        "baseline_ratio": round(base_per_pair / ours_per_pair, 1) if base_per_pair else None,
        "join_first_frame_p95_ms": p95(join_ms),
        "switch_first_frame_p95_ms": p95(switch_ms),
    }
    log(
        f"per subscriber (one publisher's audio+video): ours {ours_per_pair:.2%} of a core, "
        f"baseline {base_per_pair or 0:.2%}"
    )
    log(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(json.dumps(result), flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--baseline-subscribers", type=int, default=2)
    parser.add_argument("--baseline-seconds", type=float, default=10)
    parser.add_argument(
        "--coalesce-ms",
        type=float,
        default=2.0,
        help="SFU server loop: batch datagram wake-ups over this window (0: plain asyncio)",
    )
    parser.add_argument(
        "--keyframe-interval",
        type=float,
        default=0.5,
        help="SFU: at most one keyframe request per source per this many seconds",
    )
    parser.add_argument("--serve", choices=["sfu", "baseline"], help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        if arguments.coalesce_ms > 0:
            from media.loop import new_event_loop

            loop = new_event_loop(arguments.coalesce_ms / 1000)
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve(arguments.serve, arguments.keyframe_interval))
        else:
            asyncio.run(serve(arguments.serve, arguments.keyframe_interval))
    else:
        asyncio.run(main(arguments))
