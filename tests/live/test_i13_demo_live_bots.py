"""`demo --live` against a real server (in process, on a FakeClock): the seeded demo, bots that
log in through HTTP like people and join today's day, the day started by the coordinator, and
the clock carrying the bot applicants from room to room; the one left out is nobody's bot."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from core.clock import FakeClock
from core.settings import Settings
from tests.live.test_browser_room import base_url, live_port, live_server, settings
from tests.utils import wait_for
from web.cli import Seeded, seed_and_link
from web.daytrack import DAYS
from web.demo import LIVE_INTERVIEW_MINUTES, LIVE_REVIEW_MINUTES
from web.demo_live import LiveDemo, LiveError
from web.live import HUB

__all__ = ["live_port", "live_server", "settings"]  # fixtures, used by name

ROUND_SECONDS = (LIVE_INTERVIEW_MINUTES + LIVE_REVIEW_MINUTES) * 60


def rooms_by_round(day: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Applicant name -> round -> room name, from the day as the console reads it."""
    names = {room["id"]: room["name"] for room in day["rooms"]}
    out: dict[str, dict[int, str]] = {}
    for slot in day["slots"]:
        out.setdefault(slot["name"], {})[slot["round"]] = names[slot["room_id"]]
    return out


async def test_demo_live_bots_join_and_the_clock_moves_them(
    live_server: Any, settings: Settings, clock: FakeClock
) -> None:
    seeded: Seeded = await seed_and_link(settings, bots=True, clock=clock)
    lines: list[str] = []
    demo = LiveDemo(seeded.cast(base_url(live_server)), say=lines.append)
    stop = asyncio.Event()
    watching: asyncio.Task[None] | None = None
    try:
        day = await demo.open()
        assert day["started"], "demo --live starts the day at once"
        assert any(line.startswith("Started the day now") for line in lines)
        runner = live_server.app[DAYS].runners[seeded.logins.live.session_id]
        await runner.settled()
        applicants = [m for m in demo.members if m.kind == "applicant"]
        staff = [m for m in demo.members if m.kind == "staff"]
        assert len(applicants) == 3 and len(staff) == 4
        plan = rooms_by_round(day)
        person = seeded.person.split(" (")[0]
        assert person in plan and person not in {m.name for m in applicants}
        # Every interviewer bot is in its room; every applicant bot is carried into round 1's.
        roster = live_server.app[HUB].roster(seeded.logins.live.session_id)
        assert len(roster) == 7
        watching = asyncio.ensure_future(demo.watch(stop))

        def in_round(number: int) -> bool:
            return all(
                member.bot is not None and member.bot.room.get("name") == plan[member.name][number]
                for member in applicants
            )

        await wait_for(lambda: in_round(1), within=10)
        await clock.advance(ROUND_SECONDS)  # the clock, not a person, moves them on
        await runner.settled()
        await wait_for(lambda: in_round(2), within=10)
        assert all(plan[m.name][1] != plan[m.name][2] for m in applicants)
        moved = [(n, e) for m in applicants if m.bot for n, e in m.bot.events if n == "moved"]
        assert len(moved) >= 2 * len(applicants)
        await wait_for(lambda: sum("→" in line for line in lines) >= 2 * len(applicants), 5)
        for member in applicants:
            assert any(f"{member.name} → {plan[member.name][2]}" in line for line in lines)
    finally:
        stop.set()
        if watching is not None:
            with contextlib.suppress(Exception):
                await watching
        await demo.close()


async def test_a_second_run_joins_the_running_day(
    live_server: Any, settings: Settings, clock: FakeClock
) -> None:
    """Restarting `demo --live` mid-day joins the day where it stands (no second start)."""
    seeded = await seed_and_link(settings, bots=True, clock=clock)
    first = LiveDemo(seeded.cast(base_url(live_server)), say=lambda line: None)
    try:
        await first.open()
    finally:
        await first.close()
    again = await seed_and_link(settings, bots=True, clock=clock)
    assert again.logins.live.session_id == seeded.logins.live.session_id
    assert again.logins.live.running
    lines: list[str] = []
    second = LiveDemo(again.cast(base_url(live_server)), say=lines.append)
    try:
        day = await second.open()
        assert day["started"] and "The day was already running: the bots joined it." in lines
    finally:
        await second.close()


async def test_a_server_on_another_database_is_named(
    live_server: Any, settings: Settings, clock: FakeClock
) -> None:
    seeded = await seed_and_link(settings, bots=True, clock=clock)
    cast = seeded.cast(base_url(live_server))
    wrong = LiveDemo(type(cast)(**{**vars(cast), "password": "not-the-demo-password"}), say=print)
    try:
        with pytest.raises(LiveError, match="same database"):
            await wrong.open()
    finally:
        await wrong.close()
