"""Two nodes sharing the database and a real Redis: socket.io fans out across them, and a
session's day has exactly one ticker, which another node takes over."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import Conflict
from core.scoping import ProgramScope
from rooms.models import InterviewSession
from signaling.bot import LiveBot
from signaling.grants import issue_join_token
from tests.factories import World
from tests.live.conftest import Day, grant
from tests.live.test_cluster import nodes
from tests.live.test_timetrack_live import two_rounds
from timetrack.commands import Command
from web.daytrack import DAYS
from web.keys import CLUSTER, DB_READ, SETTINGS, TOKENS
from web.live import HUB

pytestmark = pytest.mark.redis
__all__ = ["nodes"]  # the fixture, used by name


async def test_an_event_from_one_node_reaches_a_client_on_the_other(
    nodes: list[Any], world: World, day: Day, video_clips: Any, audio_clip: Any
) -> None:
    first, second = nodes
    bot = LiveBot(
        url=str(second.make_url("/")).rstrip("/"),
        token=issue_join_token(second.app[TOKENS], grant(world, day, "interviewer1")),
        video=video_clips["a"],
        audio=audio_clip,
        scope=day.session_id,  # whichever node owns the session, the socket reaches it
    )
    try:
        await bot.connect()
        await first.app[HUB].deliver(
            "timetrack", {"type": "broadcast", "message": "hello"}, scope=day.session_id
        )
        from tests.utils import wait_for

        await wait_for(
            lambda: any(d.get("message") == "hello" for n, d in bot.events if n == "timetrack"), 5
        )
    finally:
        await bot.close()


async def test_one_ticker_per_session_and_takeover(
    nodes: list[Any], world: World, day: Day, live_server: Any
) -> None:
    first, second = nodes
    await two_rounds(first.app, world, day)

    async def runner_on(node: Any) -> Any:
        # Read-only: the runner stores the day in transactions of its own.
        async with node.app[DB_READ]() as db:
            scope = ProgramScope(db, world.a.program_id)
            session = await scope.get(InterviewSession, day.session_id)
            return await node.app[DAYS].get(scope, session)

    # The session is placed (by load) on one of the two; the other defers to it.
    placed = await first.app[CLUSTER].owner(day.session_id)
    owner, other = (first, second) if placed.local else (second, first)
    runner = await runner_on(owner)
    assert (await runner.command("start", Command("start")))["ok"]
    with pytest.raises(Conflict) as info:
        await runner_on(other)
    node_id = owner.app[SETTINGS].node_id
    assert info.value.code == "session_elsewhere" and node_id in info.value.message

    assert await owner.app[CLUSTER].drain() == 1  # the owner hands its sessions over
    assert day.session_id not in owner.app[DAYS].runners
    taken = other.app[DAYS].runners[day.session_id]
    assert taken.state.started and not taken.state.ended
    assert (await taken.command("pause", Command("pause")))["ok"]
    # Node A's runner was fenced out: had it survived, nothing it wrote would be kept.
    assert runner.store.fence is not None and taken.store.fence == runner.store.fence + 1
