"""TimeTrack rotation benchmark: 40 rooms, an applicant bot and an interviewer bot in each,
rotate at one round boundary.

Run: .venv/bin/python bench/rotation.py [--rooms 40] [--fps 5]

A real server in a subprocess (pinned to CPU 0 where the machine allows) on a seeded SQLite
database; 2 × rooms aiortc bots in this process (CPU 1) publishing small VP8 frames (64x48 by
default) at a low rate and answering keyframe requests at once (the synthetic publisher sends a
keyframe on every PLI, as a browser does). The coordinator starts the day over REST, waits until
every applicant receives its first room, then skips to round 2: that instant is the boundary.
Reported from the boundary: p95 until every client has the round event, and p95 until every
moved applicant receives the first video frame of its new room's interviewer.
Last line JSON: {"rooms": 40, "event_p95_ms": …, "first_frame_p95_ms": …}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from served import free_port, p95  # noqa: E402

from core.clock import SystemClock  # noqa: E402
from core.db import create_engine, create_session_factory  # noqa: E402
from core.security import Passwords, Tokens  # noqa: E402
from media.pacer import Pacer  # noqa: E402
from media.synthetic import encode_opus_clip, encode_vp8_clip  # noqa: E402
from signaling.bot import LiveBot  # noqa: E402
from signaling.grants import JoinGrant, issue_join_token  # noqa: E402
from web.live import room_key  # noqa: E402
from web.migrate import upgrade  # noqa: E402

PASSWORD = "bench-password"


async def seed(url: str, rooms: int) -> dict[str, Any]:
    from datetime import date
    from datetime import time as dtime

    from portal.models import Applicant, Booking, Program, Staff
    from rooms import solver
    from rooms.models import (
        Interview,
        InterviewSession,
        Itinerary,
        Room,
        RoomInterviewer,
        Round,
    )

    engine = create_engine(url)
    factory = create_session_factory(engine)
    async with factory() as db, db.begin():
        program = Program(name="Bench", slug="bench")
        db.add(program)
        await db.flush()
        pid = program.id
        hashed = Passwords().hash(PASSWORD)
        db.add(
            Staff(
                program_id=pid,
                email="coord@bench.test",
                name="Coordinator",
                role="coordinator",
                password_hash=hashed,
            )
        )
        session = InterviewSession(
            program_id=pid,
            name="Bench day",
            date=date.today(),
            start_time=dtime(0, 0),
            timezone="UTC",
            mode="native",
            interview_minutes=20,
            review_minutes=5,
            capacity=rooms,
        )
        db.add(session)
        await db.flush()
        for number in (1, 2):
            db.add(Round(program_id=pid, session_id=session.id, number=number))
        staff, room_rows, applicants = [], [], []
        for i in range(rooms):
            person = Staff(
                program_id=pid,
                email=f"iv{i}@bench.test",
                name=f"Interviewer {i}",
                role="interviewer",
                password_hash=hashed,
            )
            room = Room(program_id=pid, session_id=session.id, name=f"Room {i + 1}", position=i)
            applicant = Applicant(
                program_id=pid,
                email=f"a{i}@bench.test",
                first_name="A",
                last_name=f"{i:03d}",
                status="scheduled",
            )
            db.add_all([person, room, applicant])
            await db.flush()
            db.add(RoomInterviewer(program_id=pid, room_id=room.id, staff_id=person.id))
            db.add(
                Booking(
                    program_id=pid, session_id=session.id, applicant_id=applicant.id, position=i
                )
            )
            staff.append(person.id)
            room_rows.append(room.id)
            applicants.append(applicant.id)
        problem = solver.Problem(
            rooms=tuple(solver.RoomSpec(r, (s,)) for r, s in zip(room_rows, staff, strict=True)),
            rounds=2,
            applicants=tuple(applicants),
        )
        itinerary = solver.solve(problem).itinerary
        assert itinerary is not None
        row = Itinerary(program_id=pid, session_id=session.id, status="published")
        db.add(row)
        await db.flush()
        for slot in itinerary.slots:
            db.add(
                Interview(
                    program_id=pid,
                    itinerary_id=row.id,
                    session_id=session.id,
                    room_id=slot.room_id,
                    round_number=slot.round,
                    applicant_id=slot.applicant_id,
                )
            )
    await engine.dispose()
    return {
        "program_id": pid,
        "session_id": session.id,
        "rooms": room_rows,
        "staff": staff,
        "applicants": applicants,
        "slots": {(s.round, s.applicant_id): s.room_id for s in itinerary.slots},
    }


def start_server(folder: Path, db_url: str, secret: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "INTERVIEWDAY_SECRET_KEY": secret,
        "INTERVIEWDAY_VAR_DIR": str(folder),
        "INTERVIEWDAY_PORT": str(port),
        "INTERVIEWDAY_DATABASE_URL": db_url,
    }
    command = [sys.executable, "-m", "web.cli", "serve"]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return server, f"http://127.0.0.1:{port}"


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def until(predicate: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--fps", type=int, default=5)
    parser.add_argument("--size", default="64x48")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    width, height = (int(v) for v in args.size.split("x"))
    folder = Path(tempfile.mkdtemp(prefix="interviewday-rotation-"))
    db_url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await asyncio.to_thread(upgrade, db_url)
    data = await seed(db_url, args.rooms)
    secret = os.urandom(24).hex()
    server, url = start_server(folder, db_url, secret)
    tokens = Tokens(secret, SystemClock())
    sid = data["session_id"]
    try:
        await wait_up(url)
        print(
            f"server up at {url}; {2 * args.rooms} bots at {width}x{height} {args.fps} fps",
            flush=True,
        )
        audio = encode_opus_clip(frames=25)
        # Each interviewer's frames have their own size, so a receiver knows whose frame it got.
        clips = [
            encode_vp8_clip(
                width + 2 * i, height, frames=args.fps * 2, fps=args.fps, bitrate=30_000
            )
            for i in range(args.rooms)
        ]
        labels = {(c.width, c.height): f"iv{i}" for i, c in enumerate(clips)}
        clip = encode_vp8_clip(width, height + 2, frames=args.fps * 2, fps=args.fps, bitrate=30_000)
        pacer = Pacer()
        interviewers, applicants = [], []
        for i, room in enumerate(data["rooms"]):
            grant = JoinGrant(
                "staff",
                data["staff"][i],
                f"Interviewer {i}",
                "interviewer",
                data["program_id"],
                sid,
                room_key(sid, room),
                f"Room {i + 1}",
            )
            interviewers.append(
                LiveBot(
                    url=url,
                    token=issue_join_token(tokens, grant),
                    video=clips[i],
                    audio=audio,
                    slots=1,
                    pacer=pacer,
                )
            )
        for applicant in data["applicants"]:
            first = data["slots"][(1, applicant)]
            grant = JoinGrant(
                "applicant",
                applicant,
                applicant,
                "applicant",
                data["program_id"],
                sid,
                room_key(sid, first),
                "Room",
            )
            applicants.append(
                LiveBot(
                    url=url,
                    token=issue_join_token(tokens, grant),
                    video=clip,
                    audio=audio,
                    slots=1,
                    pacer=pacer,
                    labels=labels,
                )
            )
        everyone = interviewers + applicants
        for index in range(0, len(everyone), 10):
            await asyncio.gather(*(bot.connect() for bot in everyone[index : index + 10]))
            print(f"  joined {min(index + 10, len(everyone))}/{len(everyone)}", flush=True)
        staff_of = {
            room: bot.participant_id for room, bot in zip(data["rooms"], interviewers, strict=True)
        }
        label_of = {room: f"iv{i}" for i, room in enumerate(data["rooms"])}

        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(url, cookie_jar=jar) as http:
            login = await http.post(
                "/api/v1/auth/login", json={"email": "coord@bench.test", "password": PASSWORD}
            )
            csrf = (await login.json())["csrf_token"]
            headers = {"X-CSRF-Token": csrf}
            command = f"/api/v1/sessions/{sid}/day/commands"
            await http.post(command, json={"kind": "start"}, headers=headers)

            def seeing() -> int:
                return sum(
                    bot.frames_from(staff_of[data["slots"][(1, a)]], 0) > 0
                    for bot, a in zip(applicants, data["applicants"], strict=True)
                )

            try:
                await until(lambda: seeing() == len(applicants), 60)
            except TimeoutError:
                states = [b.media.pc.connectionState for b in everyone]
                print(
                    f"  only {seeing()}/{len(applicants)} applicants see their interviewer; "
                    f"peer connections: {sorted(set(states))}",
                    flush=True,
                )
            print("every applicant sees its first interviewer; rotating", flush=True)
            for bot in everyone:
                bot.events.clear()
                bot.event_times.clear()
            boundary = time.monotonic()
            response = await http.post(command, json={"kind": "skip"}, headers=headers)
            assert (await response.json())["ok"], await response.text()

        def event_time(bot: LiveBot) -> float | None:
            for (name, payload), at in zip(bot.events, bot.event_times, strict=True):
                if name == "timetrack" and payload.get("type") == "round_start":
                    return at
            return None

        def frame_time(bot: LiveBot, applicant: str) -> float | None:
            label = label_of[data["slots"][(2, applicant)]]
            times = [
                c.first_frame_at[label]
                for c in bot.media.counter.slots.values()
                if label in c.first_frame_at
            ]
            return min(times) if times else None

        try:
            await until(
                lambda: (
                    all(event_time(b) for b in everyone)
                    and all(
                        frame_time(b, a)
                        for b, a in zip(applicants, data["applicants"], strict=True)
                    )
                ),
                20,
            )
        except TimeoutError:
            print("  some clients saw nothing within 20 s", flush=True)
        if os.environ.get("BENCH_DEBUG"):
            for bot in applicants[:2]:
                print(
                    {
                        m: (c.label, c.frames, list(c.first_frame_at))
                        for m, c in bot.media.counter.slots.items()
                    },
                    bot.layouts[-1:],
                    flush=True,
                )
        event_at = {i: t for i, b in enumerate(everyone) if (t := event_time(b))}
        frame_at = {
            i: t
            for i, (b, a) in enumerate(zip(applicants, data["applicants"], strict=True))
            if (t := frame_time(b, a))
        }
        event_ms = [1000 * (t - boundary) for t in event_at.values()]
        frame_ms = [1000 * (t - boundary) for t in frame_at.values()]
        print(
            f"round event: {len(event_ms)}/{len(everyone)} clients, median "
            f"{statistics.median(event_ms):.1f} ms, p95 {p95(event_ms)} ms",
            flush=True,
        )
        print(
            f"first frame of the new room: {len(frame_ms)}/{len(applicants)} applicants, "
            f"median {statistics.median(frame_ms):.1f} ms, p95 {p95(frame_ms)} ms",
            flush=True,
        )
        for bot in everyone:
            await bot.close()
        print(
            json.dumps(
                {
                    "rooms": args.rooms,
                    "event_p95_ms": p95(event_ms),
                    "first_frame_p95_ms": p95(frame_ms),
                    "clients_with_event": len(event_ms),
                    "applicants_with_frame": len(frame_ms),
                }
            )
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    asyncio.run(main())
