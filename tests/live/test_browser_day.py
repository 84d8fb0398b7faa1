"""Chromium, short durations on the FakeClock: the clock carries an applicant from room 1 to
room 2 (moving banner, then the second interviewer's video on the same connection), the first
interviewer gets the scoring prompt, and the console shows both moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from tests.factories import World
from tests.live.conftest import Day
from tests.live.test_browser_room import (
    MAGENTA_CAMERA,
    applicant_page,
    live_port,
    live_server,
    settings,
    staff_page,
    staff_pid,
    wait_connected,
    wait_sees,
)
from tests.live.test_timetrack_live import two_rounds
from web.daytrack import DAYS

pytestmark = pytest.mark.browser


async def test_the_clock_carries_the_applicant(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    clock: FakeClock,
    artifacts: Path,
) -> None:
    await two_rounds(live_server.app, world, day)
    path = f"/live/sessions/{day.session_id}"
    first = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    second = await staff_page(browser, live_server, "iv2@a.test", path, init=MAGENTA_CAMERA)
    console = await staff_page(
        browser, live_server, world.a.coordinator_email, f"/sessions/{day.session_id}/console"
    )
    for page in (first, applicant, second):
        await wait_connected(page)
    await wait_sees(applicant, staff_pid(day, day.interviewer1))

    await console.get_by_role("button", name="Start the day").click()
    await console.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 1')"
    )
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    await applicant.wait_for_function(
        "() => document.getElementById('clock-label').textContent.includes('round 1')"
    )
    assert "Up next: Room 2" in await applicant.inner_text("#clock-next")
    assert await applicant.locator("#day-strip li").count() == 2
    await applicant.evaluate("window.interviewday.pc.__marker = 'all-day'")

    await clock.advance(10 * 60)  # the first interview ends
    await runner.settled()
    await first.wait_for_selector("#score-prompt")
    assert "Ann Applicant a" in await first.inner_text("#score-prompt")
    assert await first.locator("#side-panel iframe").count() == 1

    await clock.advance(2 * 60 - 10)  # ten seconds before the review ends
    await runner.settled()
    await applicant.wait_for_function(
        "() => document.getElementById('live-banner').textContent.includes('Moving you to Room 2')"
    )
    await applicant.screenshot(path=str(artifacts / "applicant-moving.png"))

    await clock.advance(10)  # round 2: the server re-routes the applicant
    await runner.settled()
    await wait_sees(applicant, staff_pid(day, day.interviewer2), within_ms=3_000)
    assert await applicant.inner_text("#room-name") == "Room 2"
    assert await applicant.evaluate("window.interviewday.pc.__marker") == "all-day"

    await console.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 2')"
    )
    row = console.locator(f'tr[data-room="{day.room2}"] td.current.cell')
    assert "Ann Applicant a" in await row.inner_text()
    first_row = console.locator(f'tr[data-room="{day.room1}"] td.cell')
    assert "Ann Applicant a" in await first_row.first.inner_text()
    await console.screenshot(path=str(artifacts / "console-after-move.png"), full_page=True)
    await applicant.screenshot(path=str(artifacts / "applicant-room2.png"))


async def test_manual_mode_the_interviewer_lets_the_applicant_in(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    clock: FakeClock,
) -> None:
    from rooms.models import InterviewSession
    from web.keys import DB

    await two_rounds(live_server.app, world, day)
    async with live_server.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, day.session_id)
        assert session is not None
        session.manual_mode = True
    path = f"/live/sessions/{day.session_id}"
    first = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    console = await staff_page(
        browser, live_server, world.a.coordinator_email, f"/sessions/{day.session_id}/console"
    )
    for page in (first, applicant):
        await wait_connected(page)
    await console.get_by_role("button", name="Start the day").click()
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Waiting room'"
    )

    await first.get_by_role("button", name="Let the applicant in").click()
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Room 1'"
    )
    await wait_sees(applicant, staff_pid(day, day.interviewer1))
    await first.get_by_role("button", name="Complete").click()
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Waiting room'"
    )
    await first.wait_for_selector("#score-prompt")
