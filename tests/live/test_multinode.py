"""Two nodes sharing the database and a real Redis: socket.io fans out across them, and a
session's day has exactly one ticker, which another node takes over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.errors import Conflict
from core.scoping import ProgramScope
from rooms.models import InterviewSession
from signaling.bot import LiveBot
from signaling.grants import issue_join_token
from tests.conftest import make_settings
from tests.factories import World
from tests.live.conftest import Day, grant
from tests.live.test_timetrack_live import two_rounds
from timetrack.commands import Command
from web.app import create_app
from web.daytrack import DAYS
from web.keys import DB_READ, TOKENS
from web.live import HUB

pytestmark = pytest.mark.redis


@pytest.fixture
async def nodes(
    aiohttp_server: Any, sqlite_url: str, tmp_path: Path, redis_url: str, clock: FakeClock
) -> list[Any]:
    servers = []
    for name in ("node-a", "node-b"):
        settings = make_settings(sqlite_url, tmp_path, redis_url=redis_url, node_id=name)
        servers.append(await aiohttp_server(create_app(settings, clock=clock), host="127.0.0.1"))
    return servers


async def test_an_event_from_one_node_reaches_a_client_on_the_other(
    nodes: list[Any], world: World, day: Day, video_clips: Any, audio_clip: Any
) -> None:
    first, second = nodes
    bot = LiveBot(
        url=str(second.make_url("/")).rstrip("/"),
        token=issue_join_token(second.app[TOKENS], grant(world, day, "interviewer1")),
        video=video_clips["a"],
        audio=audio_clip,
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

    runner = await runner_on(first)
    assert (await runner.command("start", Command("start")))["ok"]
    with pytest.raises(Conflict) as info:
        await runner_on(second)
    assert info.value.code == "session_elsewhere" and "node-a" in info.value.message

    await first.app[DAYS].close()  # node A goes away (gracefully: it releases the lease)
    await second.app[DAYS].maintain()
    taken = second.app[DAYS].runners[day.session_id]
    assert taken.state.started and not taken.state.ended
    assert (await taken.command("pause", Command("pause")))["ok"]
