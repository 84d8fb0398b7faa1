"""Chromium: the demo day moving by itself with `demo --live` (issue 13, item 11).

A newcomer opens the console as the coordinator and, in another window, the live page of the
applicant the bots leave out. `demo --live` (its `LiveDemo`, in process against a real server
on a FakeClock) fills the other rooms with bots and starts the day: the clock carries the
person from the waiting room into their first room, where a bot interviewer's video plays,
then to the next room when the round is over; nobody clicks anything on the way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.settings import Settings
from tests.live.test_browser_room import (
    base_url,
    live_port,
    live_server,
    settings,
    wait_connected,
    wait_sees,
)
from tests.live.test_i13_demo_live_bots import ROUND_SECONDS
from web.cli import seed_and_link
from web.daytrack import DAYS
from web.demo import COORDINATOR_EMAIL, DEMO_PASSWORD
from web.demo_live import LiveDemo

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # fixtures, used by name

ROOM_IS = "(name) => document.getElementById('room-name').textContent === name"
PHASE_HAS = "(text) => document.getElementById('phase-label').textContent.includes(text)"


async def coordinator_console(browser: Any, server: Any, session_id: str) -> Any:
    path = f"/sessions/{session_id}/console"
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base_url(server)}/login?next={path}")
    await page.get_by_label("Email").fill(COORDINATOR_EMAIL)
    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{path}")
    return page


async def test_the_demo_day_moves_by_itself_with_demo_live(
    browser: Any, live_server: Any, settings: Settings, clock: FakeClock, artifacts: Path
) -> None:
    seeded = await seed_and_link(settings, bots=True, clock=clock)
    session_id = seeded.logins.live.session_id
    console = await coordinator_console(browser, live_server, session_id)
    person = await (await browser.new_context()).new_page()
    opened = await person.request.get(
        f"{base_url(live_server)}/a/{seeded.person_token}", max_redirects=0
    )
    assert opened.status == 303
    await person.goto(f"{base_url(live_server)}/live/sessions/{session_id}")
    await wait_connected(person)

    demo = LiveDemo(seeded.cast(base_url(live_server)), say=lambda line: None)
    try:
        day = await demo.open()
        runner = live_server.app[DAYS].runners[session_id]
        await runner.settled()
        name = seeded.person.split(" (")[0]
        rooms = {room["id"]: room for room in day["rooms"]}
        mine = {s["round"]: rooms[s["room_id"]] for s in day["slots"] if s["name"] == name}

        # Started: the clock carries the person into round 1's room, with a bot interviewer.
        await person.wait_for_function(ROOM_IS, arg=mine[1]["name"], timeout=10_000)
        interviewer = mine[1]["interviewer_ids"][0]
        await wait_sees(person, f"{session_id}/staff:{interviewer}")
        await console.wait_for_function(PHASE_HAS, arg="round 1", timeout=10_000)
        await person.screenshot(path=str(artifacts / "person-round1.png"))

        await clock.advance(ROUND_SECONDS)  # nobody clicks: the round is over
        await runner.settled()
        assert mine[2]["name"] != mine[1]["name"]
        await person.wait_for_function(ROOM_IS, arg=mine[2]["name"], timeout=10_000)
        interviewer = mine[2]["interviewer_ids"][0]
        await wait_sees(person, f"{session_id}/staff:{interviewer}")
        await console.wait_for_function(PHASE_HAS, arg="round 2", timeout=10_000)
        await person.screenshot(path=str(artifacts / "person-round2.png"))
        await console.screenshot(path=str(artifacts / "console-round2.png"), full_page=True)
    finally:
        await demo.close()
