"""The floor under the SFU's cost per forwarded packet: the same packets through SRTP protect
and `sendto` in a tight loop.

Every packet the SFU forwards ends in libsrtp's protect and one `sendto` (media/fastpath/
send.py); from Python nothing cheaper per packet exists. This measures exactly that, with the
packets a subscriber of the bench receives: three publishers' VP8 clips packetized as the
pacer does and their Opus frames, each with the 12-byte header and the MID (plus audio level)
extension a slot sends, interleaved as they arrive in time. The loop runs in a process of its
own pinned to the server's CPU, with the SRTP profile two aiortc peers negotiate, on a
non-blocking UDP socket like the SFU's; a thread of the calling process drains the receiving
socket on the bots' CPU. The figure is the least CPU time per packet over a few repetitions
(a floor: noise only ever adds).

`bench/sfu.py` calls `measure_floor`; `python bench/sfu_floor.py --alone` measures it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media.forwarder import build_extension_block  # noqa: E402
from media.synthetic import EncodedClip  # noqa: E402
from media.vp8 import vp8_packetize  # noqa: E402

HEADER = struct.Struct("!BBHII")
VIDEO_PT, AUDIO_PT = 96, 111
MID_ID, LEVEL_ID = 4, 1
PACKETS = 30_000  # per repetition, fewer than 2**16: one fresh SRTP session each
REPEATS = 5
SO_RCVBUFFORCE = 33  # Linux; Python's socket module does not name it


def forwarded_packets(
    video: list[EncodedClip], audio: EncodedClip, count: int, seed: int = 1
) -> list[bytes]:
    """`count` plaintext RTP packets as one subscriber receives them from `len(video)` slots.

    Slot i carries `video[i]` and `audio` from a random phase; packets are in arrival order
    (by the time their frame is due), sequence numbers and timestamps consecutive per SSRC.
    """
    rng = random.Random(seed)
    events: list[tuple[float, int, int, int]] = []  # due time, slot, kind (0 video), frame
    seconds = count / max(1.0, _packets_per_second(video, audio)) + 1
    for slot, clip in enumerate(video):
        for kind, source in ((0, clip), (1, audio)):
            phase = rng.random() / source.fps
            frames = int(seconds * source.fps) + 1
            events.extend((phase + n / source.fps, slot, kind, n) for n in range(frames))
    events.sort()
    seqs = [[rng.randrange(1 << 16) for _ in range(2)] for _ in video]
    ssrcs = [[rng.randrange(1, 1 << 32) for _ in range(2)] for _ in video]
    video_ext = [
        build_extension_block([(MID_ID, str(2 * s + 1).encode())]) for s in range(len(video))
    ]
    out: list[bytes] = []
    for _, slot, kind, n in events:
        if kind == 0:
            clip = video[slot]
            payloads = vp8_packetize(clip.frames[n % len(clip.frames)], n & 0x7FFF)
            ext = video_ext[slot]
            pt, step = VIDEO_PT, 3000
        else:
            payloads = [audio.frames[n % len(audio.frames)]]
            level = bytes((0x80 | rng.randrange(20, 60),))
            ext = build_extension_block([(MID_ID, str(2 * slot).encode()), (LEVEL_ID, level)])
            pt, step = AUDIO_PT, 960
        for i, payload in enumerate(payloads):
            seq = seqs[slot][kind]
            seqs[slot][kind] = (seq + 1) & 0xFFFF
            marker = 0x80 if i == len(payloads) - 1 else 0
            header = HEADER.pack(0x90, marker | pt, seq, (n * step) & 0xFFFFFFFF, ssrcs[slot][kind])
            out.append(header + ext + payload)
            if len(out) == count:
                return out
    raise AssertionError("not enough frames for the packets asked")


def _packets_per_second(video: list[EncodedClip], audio: EncodedClip) -> float:
    per_frame = [sum(len(vp8_packetize(f, 0)) for f in c.frames) / len(c.frames) for c in video]
    return sum(p * c.fps for p, c in zip(per_frame, video, strict=True)) + audio.fps * len(video)


def protect_and_send(packets: list[bytes], address: tuple[str, int]) -> tuple[float, int]:
    """CPU seconds of this thread to protect and send every packet once; sends that failed."""
    from aiortc.rtcdtlstransport import SRTP_PROFILES
    from pylibsrtp import Policy, Session

    from media.fastpath.receive import srtp_processor

    profile = SRTP_PROFILES[0]  # the first both aiortc peers support: what they negotiate
    policy = Policy(
        key=os.urandom(profile.key_length + profile.salt_length),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=profile.libsrtp_profile,
    )
    policy.allow_repeat_tx = True  # as aiortc's sending session
    policy.window_size = 1024
    session = Session(policy)  # kept referenced: its context is freed with it
    protect = srtp_processor(session)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sendto = sock.sendto
    failed = 0
    started = time.thread_time()
    for packet in packets:
        try:
            sendto(protect(packet), address)
        except OSError:  # as Downlink.send: a full buffer drops the packet
            failed += 1
    elapsed = time.thread_time() - started
    sock.close()
    del session
    return elapsed, failed


@dataclass(frozen=True)
class Floor:
    us_per_packet: float
    repeats_us: list[float]
    failed: int
    received: int
    sent: int


class Drain:
    """A UDP socket read on its own thread (pinned to `cpu`) until closed."""

    def __init__(self, cpu: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # room for a whole repetition when this thread falls behind (root only)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(cpu,), daemon=True)
        self._thread.start()

    def _run(self, cpu: int) -> None:
        os.sched_setaffinity(0, {cpu})  # this thread only
        buffer = bytearray(2048)
        while not self._stop.is_set():
            try:
                self.sock.recv_into(buffer)
            except TimeoutError:
                continue
            self.received += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def measure_floor(
    video: list[EncodedClip],
    audio: EncodedClip,
    cpu: int,
    drain_cpu: int,
    packets: int = PACKETS,
    repeats: int = REPEATS,
) -> Floor:
    """Runs the loop in a child process on `cpu`; the calling process drains on `drain_cpu`."""
    drain = Drain(drain_cpu)
    with tempfile.NamedTemporaryFile(suffix=".pickle") as clips:
        pickle.dump((video, audio), clips)
        clips.flush()
        command = [sys.executable, __file__, "--clips", clips.name, "--cpu", str(cpu)]
        command += ["--port", str(drain.address[1]), "--packets", str(packets)]
        command += ["--repeats", str(repeats)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    deadline = time.monotonic() + 2
    while drain.received < packets * repeats and time.monotonic() < deadline:
        time.sleep(0.05)  # the last datagrams may still be in the socket's buffer
    drain.close()
    result = json.loads(output.splitlines()[-1])
    return Floor(
        us_per_packet=min(result["repeats_us"]),
        repeats_us=result["repeats_us"],
        failed=result["failed"],
        received=drain.received,
        sent=packets * repeats,
    )


def _child(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {args.cpu})
    with open(args.clips, "rb") as handle:
        video, audio = pickle.load(handle)
    packets = forwarded_packets(video, audio, args.packets)
    repeats: list[float] = []
    failed = 0
    for _ in range(args.repeats):
        seconds, lost = protect_and_send(packets, ("127.0.0.1", args.port))
        repeats.append(round(seconds / len(packets) * 1e6, 2))
        failed += lost
    print(json.dumps({"repeats_us": repeats, "failed": failed}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--packets", type=int, default=PACKETS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--alone", action="store_true", help="measure without bench/sfu.py")
    args = parser.parse_args()
    if args.clips:
        _child(args)
        return
    if not args.alone:  # `make bench` runs every script in bench/: bench/sfu.py measures this
        print("bench/sfu_floor.py is measured by bench/sfu.py (or run it with --alone)")
        return
    from media.synthetic import encode_opus_clip, encode_vp8_clip

    video = [encode_vp8_clip(640, 480 - 16 * i, frames=150) for i in range(3)]
    floor = measure_floor(video, encode_opus_clip(), args.cpu, 1 - args.cpu, args.packets)
    print(json.dumps(floor.__dict__))


if __name__ == "__main__":
    main()
