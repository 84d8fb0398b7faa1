"""The bots' side of bench/sfu.py: rooms of synthetic participants, their joins and switches.

Each room is 1 applicant + 3 interviewers publishing 640x480 VP8 at 30 fps and Opus through
one pacer, each receiving the other three on fixed slots and decoding each new source's first
frame (`media.synthetic.FirstFrameDecoder`, on a thread). Joins and rotations are timed as
attempts (bench/sfu_stats.py): every slot that should show a source, to its first decoded
frame.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from served import p95  # noqa: E402
from sfu_server import Server  # noqa: E402
from sfu_stats import Attempt, join_attempts, settle, switch_attempts  # noqa: E402

from media.pacer import Pacer  # noqa: E402
from media.synthetic import (  # noqa: E402
    EncodedClip,
    SyntheticParticipant,
    encode_opus_clip,
    encode_vp8_clip,
)

FPS = 30
CLIP_FRAMES = 150  # one keyframe every 5 s of replay, besides those asked for
# Three sizes per role: a rotation always changes the size a slot shows, so a receiver can
# tell the new source from the old one by its decoded frame (rooms: a multiple of 3).
APPLICANT_SIZES = [(640, 480), (624, 480), (608, 480)]
INTERVIEWER_SIZES = [(640, 464), (624, 464), (608, 464)]
JOIN_DEADLINE = 8.0  # seconds after a batch's last offer; later counts as never (a miss)
SWITCH_DEADLINE = 5.0  # seconds after a route; healthy runs settle far sooner


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def wait_until(done: Callable[[], bool], deadline: float) -> None:
    # Polled: what it waits for is set in the bots' packet callbacks, not by an event.
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def lower_layers(size: tuple[int, int]) -> list[tuple[int, int]]:
    """Sizes of the q and h layers under a top layer of `size` (a quarter and a half)."""
    w, h = size
    return [(w // 4, h // 4), (w // 2, h // 2)]


def encode_clips() -> tuple[dict[tuple[int, int], EncodedClip], EncodedClip]:
    """Every top-layer clip, and under it (simulcast) its q and h layers as browsers send."""
    clips = {
        size: encode_vp8_clip(*size, frames=CLIP_FRAMES, fps=FPS, bitrate=600_000)
        for size in APPLICANT_SIZES + INTERVIEWER_SIZES
    }
    for size in APPLICANT_SIZES + INTERVIEWER_SIZES:
        for lower, rate in zip(lower_layers(size), (100_000, 250_000), strict=True):
            clips[lower] = encode_vp8_clip(*lower, frames=CLIP_FRAMES, fps=FPS, bitrate=rate)
    return clips, encode_opus_clip(frames=50)


class Rooms:
    """The bots of the SFU phase and what they have seen."""

    def __init__(
        self,
        server: Server,
        clips: dict[Any, EncodedClip],
        audio: EncodedClip,
        simulcast: bool = True,
    ):
        self.server = server
        self.simulcast = simulcast
        self.clips = clips
        self.audio = audio
        self.labels = {size: f"A{i}" for i, size in enumerate(APPLICANT_SIZES)}
        self.labels.update({size: f"I{i}" for i, size in enumerate(INTERVIEWER_SIZES)})
        for size, label in list(self.labels.items()):  # any layer of a source names it
            self.labels.update(dict.fromkeys(lower_layers(size), label))
        # Bots publish through one pacer (one timer, the SFU's own send path): aiortc's sender
        # would make the bots, not the server, the bottleneck.
        self.pacer = Pacer()
        # First frames decode on a thread: a burst of switches does not hold up the packets.
        self.decode_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-frame")
        self.bots: dict[str, SyntheticParticipant] = {}
        self.joined_at: dict[str, float] = {}
        self.label_of: dict[str, str] = {}
        self.count = 0
        self.layouts: dict[str, dict[str, str | None]] = {}

    def video_mids(self, pid: str) -> list[str]:
        slots = self.bots[pid].counter.slots
        return [mid for mid, count in slots.items() if count.kind == "video"]

    def decoded(self) -> dict[tuple[str, str], list[tuple[float, str]]]:
        return {
            (pid, mid): count.decoded
            for pid, bot in self.bots.items()
            for mid, count in bot.counter.slots.items()
            if count.kind == "video"
        }

    async def add_rooms(self, rooms: int) -> tuple[list[float], list[Attempt]]:
        """Rooms count..count+rooms-1 join; the delays of their join attempts, and misses."""
        first, last = self.count, self.count + rooms
        log(f"joining rooms {first}..{last - 1} (4 participants each)")
        new: list[str] = []
        for r in range(first, last):
            members = [(f"int{r}-{k}", INTERVIEWER_SIZES[r % 3]) for k in range(3)]
            members.append((f"app{r}", APPLICANT_SIZES[r % 3]))
            for pid, size in members:
                layers = [self.clips[s] for s in [*lower_layers(size), size]]
                bot = SyntheticParticipant(
                    self.clips[size],
                    self.audio,
                    layers=layers if self.simulcast else (),
                    slots=3,
                    labels=self.labels,
                    pacer=self.pacer,
                    decode_first=True,
                    decode_pool=self.decode_pool,
                )
                self.joined_at[pid] = time.monotonic()
                self.label_of[pid] = self.labels[size]
                offer = await bot.create_offer()
                reply = await self.server.call("add", id=pid, room=f"room{r}", sdp=offer)
                await bot.accept_answer(reply["sdp"])
                self.bots[pid] = bot
                new.append(pid)
        self.count = last
        deadline = time.monotonic() + JOIN_DEADLINE
        self.layouts = await self.server.layouts()
        attempts = join_attempts(
            self.layouts, {pid: self.video_mids(pid) for pid in new}, self.joined_at, self.label_of
        )
        await wait_until(lambda: not settle(attempts, self.decoded())[1], deadline)
        delays, misses = settle(attempts, self.decoded())
        connected = sum(1 for pid in new if self.bots[pid].pc.connectionState == "connected")
        log(
            f"{connected}/{len(new)} connected; join-to-first-decoded-frame p95 {p95(delays)} ms "
            f"({len(attempts)} attempts, {len(misses)} misses)"
        )
        self.explain(misses)
        return delays, misses

    async def rotate(self, rotation: int, rooms: int) -> tuple[list[float], list[Attempt]]:
        """Every applicant of rooms 0..rooms-1 moves on by one room."""
        before = await self.server.layouts()
        moves = [(f"app{r}", f"room{(r + rotation) % rooms}") for r in range(rooms)]
        routed_at = (await self.server.call("route", moves=moves))["t"]
        deadline = time.monotonic() + SWITCH_DEADLINE
        after = self.layouts = await self.server.layouts()
        mids = {pid: self.video_mids(pid) for pid in self.bots}
        attempts, unseen = switch_attempts(before, after, mids, routed_at, self.label_of)
        if unseen:
            log(f"WARNING: {unseen} switches between same-sized sources cannot be timed")
        await wait_until(lambda: not settle(attempts, self.decoded())[1], deadline)
        delays, misses = settle(attempts, self.decoded())
        log(
            f"rotation {rotation}: switch-to-first-decoded-frame p95 {p95(delays)} ms "
            f"({len(attempts)} attempts, {len(misses)} misses)"
        )
        self.explain(misses)
        return delays, misses

    def explain(self, misses: list[Attempt]) -> None:
        """Where each missed first frame got to: the RTP level (the keyframe's last packet
        came) or not even that; how many keyframes the slot's decoder gave up on."""
        for miss in misses[:8]:
            count = self.bots[miss.viewer].counter.slots[miss.mid]
            arrived = any(at >= miss.since and lab == miss.label for at, lab in count.changes)
            abandoned = count.decoder.abandoned if count.decoder is not None else 0
            log(
                f"  no decoded frame: {miss.viewer} slot {miss.mid} from {miss.source} "
                f"(its keyframe {'came' if arrived else 'never came'} at the RTP level; the "
                f"slot's decoder gave up on {abandoned} incomplete keyframes so far; "
                f"slot shows {count.label})"
            )
        if len(misses) > 8:
            log(f"  and {len(misses) - 8} more")

    def slot_fps(self, seconds: float) -> list[float]:
        """Frames per second over the last `seconds` of every video slot showing a source."""
        since = time.monotonic() - seconds
        return [
            self.bots[pid].counter.frames_since(mid, since) / seconds
            for pid, layout in self.layouts.items()
            for mid, source in layout.items()
            if source is not None and self.bots[pid].counter.slots[mid].kind == "video"
        ]

    async def close(self) -> None:
        for bot in self.bots.values():
            await bot.close()
        await self.pacer.close()
        self.decode_pool.shutdown()
