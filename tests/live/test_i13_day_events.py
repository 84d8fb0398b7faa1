"""Issue 13 over real connections (bots): each person gets each day event exactly once, a skip
sends one scoring prompt (its reminder a review's length later), the applicant spends the review
in their waiting room where a coordinator's message reaches them, and an applicant who never
connects is a no-show: no prompt, and the rank list does not count the interview."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.clock import FakeClock
from rooms.models import Interview
from signaling.grants import JoinGrant
from tests.factories import PASSWORD, World
from tests.live.conftest import Day, grant
from tests.live.test_timetrack_live import two_rounds
from tests.utils import wait_for
from timetrack.runner import DayRunner
from web.daytrack import DAYS
from web.keys import DB
from web.live import HUB


@dataclass
class Console:
    """The coordinator's REST calls."""

    http: aiohttp.ClientSession
    csrf: str
    session_id: str
    sent: int = 0

    async def command(self, kind: str, **args: Any) -> dict[str, Any]:
        self.sent += 1
        response = await self.http.post(
            f"/api/v1/sessions/{self.session_id}/day/commands",
            json={"kind": kind, "args": args, "command_id": f"{kind}-{self.sent}"},
            headers={"X-CSRF-Token": self.csrf},
        )
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        assert body["ok"], body
        return body

    async def get(self, path: str) -> Any:
        response = await self.http.get(f"/api/v1{path}")
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.fixture
async def console(live_server: Any, world: World, day: Day) -> AsyncIterator[Console]:
    base = str(live_server.make_url("/")).rstrip("/")
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": world.a.coordinator_email, "password": PASSWORD}
        )
        yield Console(http, (await login.json())["csrf_token"], day.session_id)


def coordinator_grant(world: World, day: Day) -> JoinGrant:
    return JoinGrant(
        "staff",
        world.a.staff_id,
        "Director",
        "coordinator",
        world.a.program_id,
        day.session_id,
        f"{day.session_id}:coordinators",
        "Coordinators",
    )


def counts(bot: Any) -> Counter[str]:
    return Counter(
        f"{data['type']}{'/reminder' if data.get('reminder') else ''}"
        for name, data in bot.events
        if name == "timetrack"
    )


class Barrier:
    """Everything the server sent before the barrier has arrived once the barrier has: each
    socket receives in order."""

    def __init__(self, app: Any, session_id: str, bots: list[Any]) -> None:
        self.hub, self.session_id, self.bots, self.n = app[HUB], session_id, bots, 0

    async def __call__(self) -> None:
        self.n += 1
        marker = {"type": "barrier", "n": self.n}
        await self.hub.deliver("timetrack", marker, scope=self.session_id)
        await wait_for(lambda: all(("timetrack", marker) in bot.events for bot in self.bots), 3.0)


async def settle(runner: DayRunner, clock: FakeClock, seconds: float) -> None:
    await clock.advance(seconds)
    await runner.settled()


async def test_each_event_arrives_once(
    live_server: Any, bots: Any, world: World, day: Day, clock: FakeClock, console: Console
) -> None:
    await two_rounds(live_server.app, world, day)  # 10-minute interviews, 2-minute reviews
    applicant = bots(grant(world, day, "applicant"), "a")
    first = bots(grant(world, day, "interviewer1"), "b")
    second = bots(grant(world, day, "interviewer2"), "c")
    coordinator = bots(coordinator_grant(world, day), "a")
    everyone = [applicant, first, second, coordinator]
    for bot in everyone:
        await bot.connect()
    barrier = Barrier(live_server.app, day.session_id, everyone)

    await console.command("start")
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    await barrier()
    for bot in everyone:
        assert counts(bot)["clock"] == 1, counts(bot)
        assert counts(bot)["round_start"] == 1, counts(bot)

    await settle(runner, clock, 8 * 60)  # the knock, two minutes before the end
    await barrier()
    assert [counts(b)["knock"] for b in everyone] == [1, 1, 0, 1]
    assert [counts(b)["clock"] for b in everyone] == [2, 2, 2, 2]

    await settle(runner, clock, 2 * 60)  # the interview ends; the review begins
    await barrier()
    assert [counts(b)["time_up"] for b in everyone] == [1, 1, 0, 1]
    assert [counts(b)["score_prompt"] for b in everyone] == [0, 1, 0, 1]
    assert counts(applicant)["review"] == 1
    # The applicant waits outside while the interviewer scores, and a message reaches them.
    await wait_for(lambda: applicant.room.get("name") == "Waiting room", 3.0)
    await console.command("chat", target="applicant", applicant_id=day.applicant, message="Hi")
    await console.command("broadcast", target="all", message="Lunch at noon")
    await barrier()
    assert [counts(b)["chat"] for b in everyone] == [1, 0, 0, 1]
    assert [counts(b)["broadcast"] for b in everyone] == [1, 1, 1, 1]

    await settle(runner, clock, 2 * 60 - 10)  # the move notice
    await settle(runner, clock, 10)  # round 2: into Room 2
    await wait_for(lambda: applicant.room.get("name") == "Room 2", 3.0)
    await barrier()
    clocks = [counts(b)["clock"] for b in everyone]

    await settle(runner, clock, 60)
    await console.command("skip")  # ends round 2 and its review at once
    await runner.settled()
    await barrier()
    assert [counts(b)["clock"] - c for b, c in zip(everyone, clocks, strict=True)] == [1] * 4
    assert counts(second)["score_prompt"] == 1
    assert counts(second)["score_prompt/reminder"] == 0
    await settle(runner, clock, 2 * 60)  # the review's length after the prompt
    await barrier()
    assert counts(second)["score_prompt/reminder"] == 1
    assert counts(first)["score_prompt/reminder"] == 1  # round 1's, at its review's end


async def test_an_applicant_who_never_connects_is_a_no_show(
    live_server: Any, bots: Any, world: World, day: Day, clock: FakeClock, console: Console
) -> None:
    await two_rounds(live_server.app, world, day)
    first = bots(grant(world, day, "interviewer1"), "b")
    await first.connect()
    barrier = Barrier(live_server.app, day.session_id, [first])
    await console.command("start")
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    await settle(runner, clock, 10 * 60)  # round 1's interview ends
    await settle(runner, clock, 2 * 60)  # and its review
    await barrier()
    assert counts(first)["time_up"] == 1
    assert counts(first)["score_prompt"] == 0 and counts(first)["score_prompt/reminder"] == 0
    async with live_server.app[DB]() as db:
        statuses = dict(
            (
                await db.execute(
                    select(Interview.round_number, Interview.status).where(
                        Interview.session_id == day.session_id
                    )
                )
            )
            .tuples()
            .all()
        )
    assert statuses[1] == "no_show"
    day_view = await console.get(f"/sessions/{day.session_id}/day")
    slot = next(s for s in day_view["day"]["slots"] if s["round"] == 1)
    assert slot["status"] == "no_show"

    # The applicant comes for round 2: that interview counts, round 1's does not.
    applicant = bots(grant(world, day, "applicant"), "a")
    await applicant.connect()
    await wait_for(lambda: runner.state.attended, 3.0)
    await settle(runner, clock, 10 * 60)
    assert runner.state.status(2, day.room2) == "completed"
    results = await console.get("/ranks/results")
    rows = results["results"] if isinstance(results, dict) else results
    mine = next(r for r in rows if r["applicant_id"] == day.applicant)
    assert mine["interviews"] == 1
