"""Chromium: on an external-link day, after the coordinator skips to round 2 in the console,
the applicant's reloaded page offers round 2's meeting link (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from rooms.models import InterviewSession, Room
from tests.factories import World
from tests.live.conftest import Day
from tests.live.test_browser_room import (
    applicant_page,
    live_port,
    live_server,
    settings,
    staff_page,
)
from tests.live.test_timetrack_live import two_rounds
from web.daytrack import DAYS
from web.keys import DB

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # fixtures used by name

ROOM_1_LINK = "https://zoom.example/j/111"
ROOM_2_LINK = "https://zoom.example/j/222"


async def external_links(app: Any, day: Day) -> None:
    async with app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, day.session_id)
        assert session is not None
        session.mode = "external"
        for room_id, link in ((day.room1, ROOM_1_LINK), (day.room2, ROOM_2_LINK)):
            room = await db.get(Room, room_id)
            assert room is not None
            room.external_url = link


async def test_after_a_skip_the_applicant_joins_round_twos_meeting(
    browser: Any, live_server: Any, client: Any, world: World, day: Day
) -> None:
    await two_rounds(live_server.app, world, day)
    await external_links(live_server.app, day)
    path = f"/live/sessions/{day.session_id}"
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    assert await applicant.get_attribute("#external-join", "href") == ROOM_1_LINK

    console = await staff_page(
        browser, live_server, world.a.coordinator_email, f"/sessions/{day.session_id}/console"
    )
    console.on("dialog", lambda dialog: dialog.accept())  # the skip may ask first
    await console.get_by_role("button", name="Start the day").click()
    await console.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 1')"
    )
    await console.get_by_role("button", name="Skip to next round").click()
    await console.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 2')"
    )
    await live_server.app[DAYS].runners[day.session_id].settled()

    await applicant.reload()
    assert await applicant.get_attribute("#external-join", "href") == ROOM_2_LINK
    assert "Room 2" in await applicant.inner_text("h1")


HOSTILE_NAME = '<img src=x data-hostile="1">Room 2'


@pytest.mark.parametrize("room_2", ["Room 2", HOSTILE_NAME])
async def test_an_open_page_follows_the_day_without_a_reload(
    browser: Any, live_server: Any, client: Any, world: World, day: Day, room_2: str
) -> None:
    await two_rounds(live_server.app, world, day)
    await external_links(live_server.app, day)
    async with live_server.app[DB]() as db, db.begin():
        room = await db.get(Room, day.room2)
        assert room is not None
        room.name = room_2  # what a coordinator typed is text on the page, never markup
    applicant = await applicant_page(
        browser, live_server, client, day.applicant, f"/live/sessions/{day.session_id}"
    )
    console = await staff_page(
        browser, live_server, world.a.coordinator_email, f"/sessions/{day.session_id}/console"
    )
    console.on("dialog", lambda dialog: dialog.accept())
    await console.get_by_role("button", name="Start the day").click()
    await applicant.wait_for_function(
        "() => document.getElementById('external-next').textContent"
        " === 'Your interview in Room 1 is on now.'",
        timeout=10_000,
    )
    await console.get_by_role("button", name="Skip to next round").click()
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    # No reload: within a poll or two the page shows round 2's meeting and counts down to it.
    await applicant.wait_for_function(
        f"() => document.getElementById('external-join').getAttribute('href') === '{ROOM_2_LINK}'",
        timeout=12_000,
    )
    assert await applicant.inner_text("#external-room") == room_2
    status = await applicant.inner_text("#external-next")
    assert status.startswith(f"Next: {room_2} in ") or status == (
        f"Your interview in {room_2} is on now."
    )
    assert await applicant.evaluate("() => document.querySelector('[data-hostile]') === null")
