"""Chromium, short durations on the FakeClock (issue 13): the review break (the applicant waits
in their waiting room with the next room and a countdown, a coordinator's message reaches them,
"Moving you in 10 s" counts down) and a no-show (no scoring prompt for an applicant who never
came; the interviewer's panel opens the applicant actually on video)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from portal.models import Booking
from rooms.models import Interview, Itinerary
from tests.factories import World
from tests.live import test_browser_room as room_tests
from tests.live import test_i13_day_events as event_tests
from tests.live.conftest import Day
from tests.live.test_browser_room import (
    applicant_page,
    staff_page,
    staff_pid,
    wait_connected,
    wait_sees,
)
from tests.live.test_i13_day_events import Console
from tests.live.test_timetrack_live import two_rounds
from web.daytrack import DAYS
from web.keys import DB

pytestmark = pytest.mark.browser
# The fixtures of those modules, used here too: a real port (Chromium) and the coordinator.
live_port = room_tests.live_port
live_server = room_tests.live_server
settings = room_tests.settings
console = event_tests.console


def banner_has(text: str) -> Any:
    return lambda page: page.wait_for_function(
        "(text) => document.getElementById('live-banner').textContent.includes(text)", arg=text
    )


async def text_of(page: Any, selector: str) -> str:
    return str(await page.inner_text(selector))


async def test_the_review_break(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    clock: FakeClock,
    console: Console,
    artifacts: Path,
) -> None:
    await two_rounds(live_server.app, world, day)  # 10-minute interviews, 2-minute reviews
    path = f"/live/sessions/{day.session_id}"
    first = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    for page in (first, applicant):
        await wait_connected(page)
    await console.command("start")
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    await wait_sees(applicant, staff_pid(day, day.interviewer1))

    await clock.advance(10 * 60)  # the interview ends: the review begins
    await runner.settled()
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Waiting room'"
    )
    await applicant.wait_for_function(
        "() => (document.getElementById('next-up-text') || {}).textContent?.startsWith("
        "'Next: Room 2 in 1:5') || document.getElementById('next-up-text')?.textContent === "
        "'Next: Room 2 in 2:00'"
    )
    shown = await text_of(applicant, "#next-up-text")
    # It counts down by itself, second by second.
    await applicant.wait_for_function(
        "(shown) => document.getElementById('next-up-text').textContent !== shown", arg=shown
    )
    assert "writing their notes" in await text_of(applicant, "#next-up-why")
    # The interviewer is alone with the form of the applicant they just saw.
    await first.wait_for_function(
        "() => document.getElementById('room-badge').textContent === 'Waiting for applicant'"
    )
    await first.wait_for_selector("#score-prompt")
    assert "Ann Applicant a" in await text_of(first, "#side-applicant")
    await applicant.screenshot(path=str(artifacts / "applicant-review.png"))

    # A coordinator's message reaches the waiting applicant.
    await console.command(
        "chat", target="applicant", applicant_id=day.applicant, message="Room 2 is ready soon"
    )
    await applicant.wait_for_function(
        "() => document.getElementById('live-notice-text').textContent.includes('ready soon')"
    )

    await clock.advance(2 * 60 - 10)  # ten seconds before the review ends
    await runner.settled()
    await banner_has("Moving you to Room 2 in ")(applicant)
    said = await text_of(applicant, "#live-banner")
    await applicant.wait_for_function(
        "(said) => document.getElementById('live-banner').textContent.startsWith('Moving you')"
        " && document.getElementById('live-banner').textContent !== said",
        arg=said,
    )
    await clock.advance(10)  # round 2: into Room 2
    await runner.settled()
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Room 2'"
    )
    assert await applicant.locator("#next-up").is_hidden()


async def two_applicants(app: Any, world: World, day: Day) -> None:
    """Ann: round 1 in Room 1, round 2 in Room 2; Bo: round 1 in Room 2, round 2 in Room 1."""
    await two_rounds(app, world, day)
    a = world.a
    async with app[DB]() as db, db.begin():
        itinerary = (
            await db.execute(
                Itinerary.__table__.select().where(Itinerary.session_id == day.session_id)
            )
        ).first()
        db.add(
            Booking(
                program_id=a.program_id,
                session_id=day.session_id,
                applicant_id=a.other_applicant_id,
            )
        )
        for number, room in ((1, day.room2), (2, day.room1)):
            db.add(
                Interview(
                    program_id=a.program_id,
                    itinerary_id=itinerary.id,
                    session_id=day.session_id,
                    room_id=room,
                    round_number=number,
                    applicant_id=a.other_applicant_id,
                )
            )


async def test_a_no_show(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    clock: FakeClock,
    console: Console,
    artifacts: Path,
) -> None:
    await two_applicants(live_server.app, world, day)
    path = f"/live/sessions/{day.session_id}"
    first = await staff_page(browser, live_server, world.a.interviewer_email, path)
    bo = await applicant_page(browser, live_server, client, world.a.other_applicant_id, path)
    for page in (first, bo):
        await wait_connected(page)
    await console.command("start")  # Ann never comes
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()

    await clock.advance(10 * 60)  # round 1 ends: Ann's interview did not happen
    await runner.settled()
    await first.wait_for_function(
        "() => (window.interviewday.day.day?.slots || [])"
        ".some((s) => s.round === 1 && s.status === 'no_show')"
    )
    assert await first.locator("#score-prompt").count() == 0
    await clock.advance(2 * 60)  # the review ends: no reminder either
    await runner.settled()
    await clock.advance(60)  # into round 2: Bo comes to Room 1
    await runner.settled()
    await wait_sees(first, f"{day.session_id}/applicant:{world.a.other_applicant_id}")
    await first.wait_for_function(
        "() => document.getElementById('side-applicant').textContent.startsWith('Bo ')"
    )
    assert await first.locator("#score-prompt").count() == 0
    await first.screenshot(path=str(artifacts / "interviewer-after-no-show.png"))
    day_view = await console.get(f"/sessions/{day.session_id}/day")
    statuses = {(s["round"], s["applicant_id"]): s["status"] for s in day_view["day"]["slots"]}
    assert statuses[(1, day.applicant)] == "no_show"
    assert statuses[(1, world.a.other_applicant_id)] == "completed"
