"""The constrained participant of bench/network.py, run inside its network namespace.

It publishes a small video and audio, receives on 3 slots, and speaks JSON lines: first
`{"offer": sdp}` on stdout, then it reads `{"answer": sdp}` on stdin, then every 0.25 s it
prints what each slot received so far (`{"t": unix time, "slots": {mid: [kind, frames,
label]}}`) until stdin says `quit` or closes. Signaling goes through the bench (the server's
control port is on the host's loopback, which a namespace cannot reach); media goes over the
namespace's own link, through the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media.pacer import Pacer  # noqa: E402
from media.synthetic import SyntheticParticipant, encode_opus_clip, encode_vp8_clip  # noqa: E402


async def main() -> None:
    if len(sys.argv) < 2:
        print("bench/netbot.py is run by bench/network.py")
        return
    labels = {tuple(k): v for k, v in json.loads(sys.argv[1])}
    pacer = Pacer()
    bot = SyntheticParticipant(
        encode_vp8_clip(176, 144, frames=30, fps=15, bitrate=100_000),
        encode_opus_clip(frames=50),
        slots=3,
        labels=labels,
        pacer=pacer,
    )
    print(json.dumps({"offer": await bot.create_offer()}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    answer = json.loads(await reader.readline())["answer"]
    await bot.accept_answer(answer)
    quit_line = asyncio.ensure_future(reader.readline())
    while not quit_line.done():
        slots = {
            mid: [count.kind, count.frames, count.label] for mid, count in bot.counter.slots.items()
        }
        print(json.dumps({"t": time.time(), "slots": slots}), flush=True)
        await asyncio.wait([quit_line], timeout=0.25)
    await bot.close()
    await pacer.close()


if __name__ == "__main__":
    asyncio.run(main())
