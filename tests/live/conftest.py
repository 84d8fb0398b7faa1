"""Live rooms end to end: a real server on loopback, socket.io, aiortc bots."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from core.clock import FakeClock
from media.synthetic import EncodedClip
from portal.models import Booking, Staff
from rooms.models import Interview, Itinerary, Room, RoomInterviewer
from signaling.bot import LiveBot
from signaling.grants import JoinGrant, issue_join_token
from tests.factories import World, itinerary_with, password_hash
from tests.media.conftest import audio_clip, labels, video_clips
from web.keys import DB, TOKENS
from web.live import HUB, room_key


@dataclass
class Day:
    session_id: str
    room1: str
    room2: str
    interviewer1: str
    interviewer2: str
    applicant: str


@pytest.fixture
async def day(live_server: Any, world: World, clock: FakeClock) -> Day:
    """Program A's session with two rooms, an interviewer in each, one applicant in room 1."""
    app = live_server.app
    a = world.a
    async with app[DB]() as db, db.begin():
        second = Staff(
            program_id=a.program_id,
            email="iv2@a.test",
            name="Second Interviewer",
            role="interviewer",
            password_hash=password_hash(),
        )
        db.add(second)
        room2 = Room(program_id=a.program_id, session_id=a.session_id, name="Room 2", position=1)
        db.add(room2)
        await db.flush()
        db.add(RoomInterviewer(program_id=a.program_id, room_id=room2.id, staff_id=second.id))
        db.add(
            Booking(program_id=a.program_id, session_id=a.session_id, applicant_id=a.applicant_id)
        )
        await itinerary_with(
            db,
            program_id=a.program_id,
            session_id=a.session_id,
            room_id=a.room_id,
            applicant_id=a.applicant_id,
            status="published",
        )
    return Day(a.session_id, a.room_id, room2.id, a.interviewer_id, second.id, a.applicant_id)


def grant(world: World, day: Day, who: str) -> JoinGrant:
    a = world.a
    if who == "applicant":
        return JoinGrant(
            "applicant",
            day.applicant,
            "Ann Applicant",
            "applicant",
            a.program_id,
            day.session_id,
            room_key(day.session_id, day.room1),
            "Room 1",
        )
    staff_id, room, name = {
        "interviewer1": (day.interviewer1, day.room1, "Room 1"),
        "interviewer2": (day.interviewer2, day.room2, "Room 2"),
    }[who]
    return JoinGrant(
        "staff",
        staff_id,
        who,
        "interviewer",
        a.program_id,
        day.session_id,
        room_key(day.session_id, room),
        name,
    )


@pytest.fixture
async def bots(
    live_server: Any,
    video_clips: dict[str, EncodedClip],
    audio_clip: EncodedClip,
    labels: dict[tuple[int, int], str],
) -> AsyncIterator[Callable[..., LiveBot]]:
    made: list[LiveBot] = []

    def make(
        join_grant: JoinGrant, clip: str, *, token: str | None = None, scope: str | None = None
    ) -> LiveBot:
        bot = LiveBot(
            url=str(live_server.make_url("/")).rstrip("/"),
            token=token or issue_join_token(live_server.app[TOKENS], join_grant),
            video=video_clips[clip],
            audio=audio_clip,
            labels=labels,
            scope=scope,
        )
        made.append(bot)
        return bot

    yield make
    for bot in made:
        await bot.close()


@pytest.fixture
def hub(live_server: Any) -> Any:
    return live_server.app[HUB]
