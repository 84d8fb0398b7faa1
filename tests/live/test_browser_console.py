"""Chromium: the coordinator runs the day from the console while bots sit in the rooms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from tests.factories import PASSWORD, World
from tests.live.conftest import Day, grant
from tests.live.test_timetrack_live import two_rounds
from web.daytrack import DAYS

pytestmark = pytest.mark.browser


async def test_console_shows_the_day_moving(
    browser: Any,
    live_server: Any,
    bots: Any,
    world: World,
    day: Day,
    clock: FakeClock,
    artifacts: Path,
) -> None:
    await two_rounds(live_server.app, world, day)
    applicant = bots(grant(world, day, "applicant"), "a")
    await applicant.connect()
    page = await browser.new_page()
    base = str(live_server.make_url("/")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(world.a.coordinator_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    await page.goto(f"{base}/sessions/{day.session_id}/console")
    grid = page.locator("#console-grid")
    await grid.locator("tbody tr").first.wait_for()
    assert await grid.locator("tbody tr").count() == 2

    await page.get_by_role("button", name="Start the day").click()
    await page.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 1')"
    )
    current = grid.locator("td.current.cell")
    await current.first.wait_for()
    assert "Ann Applicant a" in await current.first.inner_text()
    connected = grid.locator('td.current.cell [aria-label^="connected"]')
    await connected.first.wait_for()

    runner = live_server.app[DAYS].runners[day.session_id]
    await clock.advance(12 * 60)  # round 1 (10 + 2 min) is over: round 2
    await runner.settled()
    await page.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 2')"
    )
    row2 = grid.locator(f'tr[data-room="{day.room2}"] td.current.cell')
    await row2.wait_for()
    assert "Ann Applicant a" in await row2.inner_text()

    await page.get_by_label("Find an applicant").fill("ann")
    # Highlighted in both rounds (the grid redraws on the next animation frame).
    await page.wait_for_function("() => document.querySelectorAll('td.match').length === 2")
    await page.get_by_role("button", name="Extend 5 min").click()
    await page.wait_for_function(
        "() => document.getElementById('console-status').textContent.includes('extend')"
    )
    await page.screenshot(path=str(artifacts / "console.png"), full_page=True)
