"""Chromium: the console offers only the day commands that make sense now (issue 13, item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PASSWORD, World
from tests.live.conftest import Day
from tests.live.test_timetrack_live import two_rounds

pytestmark = pytest.mark.browser


async def test_start_the_day_is_hidden_once_the_day_has_started(
    browser: Any, live_server: Any, world: World, day: Day
) -> None:
    await two_rounds(live_server.app, world, day)
    page = await browser.new_page()
    base = str(live_server.make_url("/")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(world.a.coordinator_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    await page.goto(f"{base}/sessions/{day.session_id}/console")
    await page.locator("#console-grid tbody tr").first.wait_for()

    start = page.get_by_role("button", name="Start the day")
    assert await start.is_visible()
    # Before the day only "Start the day" is offered.
    for name in ("Pause", "Resume", "Extend 5 min", "Skip to next round", "End the day"):
        assert not await page.locator(".console-bar button", has_text=name).is_visible(), name

    await start.click()
    await page.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 1')"
    )
    assert not await start.is_visible()
    assert await page.get_by_role("button", name="Pause").is_visible()
    assert not await page.get_by_role("button", name="Resume").is_visible()
    assert await page.get_by_role("button", name="End the day").is_visible()
