"""`interviewday bot` and `interviewday loadtest`: headless participants against a server.

The load test starts a server of its own (unless given `--url` and `--secret-key`), mints join
tokens with the server's secret (the hub only checks the token), and runs the bots in worker
processes so that the clients do not share the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import SystemClock
from core.security import Tokens
from signaling.grants import JoinGrant, issue_join_token


@dataclass(frozen=True)
class BotSpec:
    url: str
    token: str
    name: str
    width: int
    height: int
    fps: int


def mint(secret_key: str, scope: str, room: str, name: str, role: str = "participant") -> str:
    grant = JoinGrant("staff", name, name, role, "loadtest", scope, room, room)  # type: ignore[arg-type]
    return issue_join_token(Tokens(secret_key, SystemClock()), grant)


async def run_bots(specs: list[BotSpec], seconds: float, slots: int) -> list[dict[str, Any]]:
    from media.pacer import Pacer
    from media.synthetic import encode_opus_clip, encode_vp8_clip
    from signaling.bot import LiveBot

    pacer = Pacer()
    audio = encode_opus_clip(frames=25)
    clips: dict[tuple[int, int, int], Any] = {}
    bots = []
    for spec in specs:
        key = (spec.width, spec.height, spec.fps)
        if key not in clips:
            clips[key] = encode_vp8_clip(
                spec.width, spec.height, frames=spec.fps, fps=spec.fps, bitrate=150_000
            )
        bots.append(
            LiveBot(
                url=spec.url,
                token=spec.token,
                video=clips[key],
                audio=audio,
                slots=slots,
                pacer=pacer,
            )
        )
    results: list[dict[str, Any]] = []
    try:
        await asyncio.gather(*(bot.connect() for bot in bots))
        started = time.monotonic()
        await asyncio.sleep(seconds)
        for spec, bot in zip(specs, bots, strict=True):
            video = [s for s in bot.media.counter.slots.values() if s.kind == "video" and s.frames]
            audio_slots = [
                s for s in bot.media.counter.slots.values() if s.kind == "audio" and s.frames
            ]
            fps = [sum(1 for t in s.frame_times if t >= started) / seconds for s in video]
            # The second half: how the link settled, after congestion control's first reaction.
            half = started + seconds / 2
            audio_fps = [
                sum(1 for t in s.frame_times if t >= half) / (seconds / 2) for s in audio_slots
            ]
            results.append(
                {
                    "bot": spec.name,
                    "join_ms": bot.join_seconds * 1000,
                    "video_sources": len(video),
                    "video_fps": fps,
                    "audio_sources": len(audio_slots),
                    "audio_fps_second_half": audio_fps,
                    "packets": sum(s.packets for s in bot.media.counter.slots.values()),
                }
            )
    finally:
        for bot in bots:
            await bot.close()
    return results


def _worker(specs: list[BotSpec], seconds: float, slots: int, out: Any) -> None:
    out.put(asyncio.run(run_bots(specs, seconds, slots)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(secret: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    folder = Path(tempfile.mkdtemp(prefix="interviewday-load-"))
    port = free_port()
    env = {
        **os.environ,
        "INTERVIEWDAY_SECRET_KEY": secret,
        "INTERVIEWDAY_VAR_DIR": str(folder),
        "INTERVIEWDAY_PORT": str(port),
    }
    env.pop("INTERVIEWDAY_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return server, url, folder
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def loadtest(
    rooms: int,
    per_room: int,
    seconds: float,
    *,
    url: str | None = None,
    secret_key: str | None = None,
    workers: int = 1,
    width: int = 320,
    height: int = 240,
    fps: int = 15,
) -> dict[str, Any]:
    server = None
    if url is None:
        secret_key = secret_key or os.urandom(24).hex()
        server, url, _ = start_server(secret_key)
        print(f"server started at {url}", flush=True)
    assert secret_key is not None
    specs = [
        BotSpec(
            url,
            mint(secret_key, "load", f"load:room{r}", f"bot{r}-{p}"),
            f"bot{r}-{p}",
            width,
            height,
            fps,
        )
        for r in range(rooms)
        for p in range(per_room)
    ]
    chunks = [specs[i::workers] for i in range(workers)]
    queue: Any = multiprocessing.get_context("spawn").Queue()
    processes = [
        multiprocessing.get_context("spawn").Process(
            target=_worker, args=(chunk, seconds, max(1, per_room - 1), queue)
        )
        for chunk in chunks
        if chunk
    ]
    try:
        for process in processes:
            process.start()
        print(
            f"{len(specs)} bots in {len(processes)} worker(s), {rooms} rooms × {per_room}, "
            f"{seconds:.0f} s",
            flush=True,
        )
        results: list[dict[str, Any]] = []
        for index in range(len(processes)):
            results += queue.get(timeout=seconds + 120)
            print(f"  worker {index + 1}/{len(processes)} done", flush=True)
        for process in processes:
            process.join(10)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    return summarize(results, per_room, fps)


def summarize(results: list[dict[str, Any]], per_room: int, fps: int) -> dict[str, Any]:
    joins = sorted(r["join_ms"] for r in results)
    rates = [rate for r in results for rate in r["video_fps"]]
    expected_sources = len(results) * (per_room - 1)
    received_sources = sum(r["video_sources"] for r in results)
    return {
        "bots": len(results),
        "join_ms_median": round(statistics.median(joins), 1) if joins else None,
        "join_ms_p95": round(joins[int(0.95 * (len(joins) - 1))], 1) if joins else None,
        "video_fps_median": round(statistics.median(rates), 2) if rates else 0.0,
        "video_fps_published": fps,
        "sources_received": received_sources,
        "sources_expected": expected_sources,
        "frame_loss": round(1 - (statistics.mean(rates) / fps), 3) if rates else 1.0,
    }


def bot_main(url: str, token: str, seconds: float, slots: int) -> dict[str, Any]:
    spec = BotSpec(url, token, "bot", 320, 240, 15)
    results = asyncio.run(run_bots([spec], seconds, slots))
    return results[0]


def print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data))
