"""Chromium: the reports page draws its charts and links its CSV files."""

from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World

pytestmark = pytest.mark.browser


async def test_reports_page(browser: Any, live_server: Any, world: World, artifacts: Path) -> None:
    page = await browser.new_page()
    await page.goto(str(live_server.make_url("/reports")))
    await page.get_by_label("Email").fill(world.a.director_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/reports")
    bar = page.locator("table.bars tr", has_text="invited").locator(".bar")
    width = await bar.evaluate("element => element.getBoundingClientRect().width")
    assert width > 50  # invited is the longest bar
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download CSV of sessions").click()
    download = await download_info.value
    assert download.suggested_filename == "season-sessions.csv"
    await page.screenshot(path=str(artifacts / "reports-season.png"), full_page=True)
    await page.get_by_role("link", name="Session a").click()
    await page.wait_for_url("**/reports/sessions/*")
    await page.screenshot(path=str(artifacts / "reports-session.png"), full_page=True)
    for path, name in (("/meeting-rooms", "meeting-rooms"), ("/conflicts", "conflicts")):
        await page.goto(str(live_server.make_url(path)))
        await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
