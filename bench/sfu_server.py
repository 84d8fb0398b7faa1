"""The server side of bench/sfu.py: the SFU (or the MediaRelay baseline) in a process of its own.

Run by bench/sfu.py as `python bench/sfu_server.py sfu|baseline`; it pins itself to one CPU,
prints `READY <port>` and answers JSON lines on that loopback TCP port (the signaling
stand-in): add a participant, route, layouts, a CPU sample, quit.

The SFU is built as `interviewday serve` builds it: `SHIPPED_SFU_OPTIONS` are the keyword
arguments web/live.py `build_socketio` passes (tests/media/test_bench_sfu.py checks they still
are), on a plain asyncio loop as aiohttp's `web.run_app` runs it (web/cli.py `_serve` passes no
loop, and no part of web/ uses media/loop.py). `--coalesce-ms` tries media/loop.py's
coalescing loop instead: an experiment, not the shipped system.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_CPU = 0
SHIPPED_SFU_OPTIONS: dict[str, Any] = {"keyframe_interval": 0.25}


def run_queue_wait() -> float:
    """Seconds this process's main thread has waited, runnable, for a CPU (Linux schedstat):
    how much the rest of the machine held it back."""
    try:
        with open("/proc/self/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


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
        return int(total)


async def serve(mode: str, sfu_options: dict[str, Any]) -> None:
    os.sched_setaffinity(0, {SERVER_CPU})
    from media.sfu import Sfu

    sfu = Sfu(**sfu_options)
    if os.environ.get("BENCH_TRACE_CONTROL"):  # congestion control's every decision
        import logging

        logging.basicConfig(stream=sys.stderr, format="%(relativeCreated)d %(message)s")
        logging.getLogger("media.control").setLevel(logging.DEBUG)
    baseline = RelayBaseline() if mode == "baseline" else None
    profiler = None
    if os.environ.get("BENCH_PROFILE"):  # where the server's time goes: cProfile dump
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()

    async def answer(request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "add" and baseline is None:
            sdp = await sfu.add_participant(request["id"], request["sdp"], request["room"])
            return {"sdp": sdp}
        if op == "add":
            assert baseline is not None
            return {"sdp": await baseline.add(request["sdp"], request["publish"])}
        if op == "route":
            t = time.monotonic()
            for pid, room in request["moves"]:
                sfu.route(pid, room)
            return {"t": t}
        if op == "stats":
            stats = sfu.all_stats()
            return {
                "stats": {
                    pid: {
                        "downlink": s.downlink_state,
                        "estimate_bps": round(s.downlink_estimate_bps),
                        "layers": s.video_layers,
                        "dropped": s.packets_dropped,
                    }
                    for pid, s in stats.items()
                }
            }
        if op == "layouts":
            return {"layouts": {pid: sfu.layout(pid) for pid in sfu.all_stats()}}
        if op == "sample":
            if baseline is None:
                forwarded = sum(s.packets_out for s in sfu.all_stats().values())
            else:
                forwarded = await baseline.forwarded()
            return {
                "cpu": time.process_time(),
                "wall": time.monotonic(),
                "wait": run_queue_wait(),
                "fwd": forwarded,
            }
        raise ValueError(f"unknown op {op}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "quit":
                writer.write(b"{}\n")
                await writer.drain()
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(os.environ["BENCH_PROFILE"] + f".{mode}")
                await sfu.close()
                os._exit(0)
            writer.write(json.dumps(await answer(request)).encode() + b"\n")
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


class Server:
    """The bench's handle on a server process."""

    def __init__(self, mode: str, coalesce_ms: float = 0, keyframe_interval: float | None = None):
        command = [sys.executable, __file__, mode, "--coalesce-ms", str(coalesce_ms)]
        if keyframe_interval is not None:
            command += ["--keyframe-interval", str(keyframe_interval)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
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

    async def add(self, participant_id: str, sdp: str, room: str) -> str:
        """Add a participant to `room` from its offer; the answer SDP."""
        reply = await self.call("add", id=participant_id, sdp=sdp, room=room)
        answer: str = reply["sdp"]
        return answer

    async def layouts(self) -> dict[str, dict[str, str | None]]:
        reply = await self.call("layouts")
        layouts: dict[str, dict[str, str | None]] = reply["layouts"]
        return layouts

    async def stop(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, json.JSONDecodeError):
            await asyncio.wait_for(self.call("quit"), 5)
        self.writer.close()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["sfu", "baseline"])
    parser.add_argument("--coalesce-ms", type=float, default=0.0)
    parser.add_argument("--keyframe-interval", type=float)
    args = parser.parse_args()
    if args.mode is None:  # `make bench` runs every script in bench/
        print("bench/sfu_server.py is the server of bench/sfu.py: run that")
        return
    options = dict(SHIPPED_SFU_OPTIONS)
    if args.keyframe_interval is not None:
        options["keyframe_interval"] = args.keyframe_interval
    if args.coalesce_ms > 0:
        from media.loop import new_event_loop

        loop = new_event_loop(args.coalesce_ms / 1000)
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(args.mode, options))
    else:
        asyncio.run(serve(args.mode, options))


if __name__ == "__main__":
    main()
