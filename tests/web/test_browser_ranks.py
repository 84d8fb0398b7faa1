"""Chromium: a coordinator reorders the rank list by dragging and by keyboard, reverts, exports."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest

from tests.factories import World
from tests.web.test_browser_scoring import logged_in_page
from tests.web.test_ranks_api import scored_world

pytestmark = pytest.mark.browser


async def names(page: Any) -> list[str]:
    return [n.strip() for n in await page.locator("[data-rank-name]").all_inner_texts()]


async def test_drag_keyboard_revert_and_export(
    browser: Any, live_server: Any, world: World, client: Any, artifacts: Path
) -> None:
    await scored_world(client, world)
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context(accept_downloads=True)
    page = await logged_in_page(context, base, world.a.coordinator_email)
    await page.goto(base + "/ranks")
    assert await page.get_by_text("interviewers disagree strongly").count() == 1
    await page.get_by_role("link", name="Rank lists").click()
    await page.wait_for_url("**/ranks/lists/*")
    assert await names(page) == ["Ann Applicant a", "Bo Applicant a"]

    rows = page.locator(".rank-item")
    await rows.nth(1).drag_to(rows.nth(0), target_position={"x": 10, "y": 2})
    await page.get_by_role("status").filter(has_text="Saved").wait_for()
    assert await names(page) == ["Bo Applicant a", "Ann Applicant a"]
    await page.reload()
    assert await names(page) == ["Bo Applicant a", "Ann Applicant a"]
    assert await page.get_by_text("moved by hand").count() == 2

    # Keyboard: pick Ann up, move her up, drop.
    await page.locator(".rank-item").nth(1).focus()
    await page.keyboard.press("Space")
    announcer = page.locator("[data-rank-announce]")
    await page.wait_for_function(
        "() => document.querySelector('[data-rank-announce]').textContent.includes('picked up')"
    )
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("Space")
    await page.wait_for_function(
        "() => document.querySelector('[data-rank-announce]')"
        ".textContent.includes('dropped at rank 1')"
    )
    assert "Ann Applicant a" in await announcer.inner_text()
    await page.get_by_role("status").filter(has_text="Saved").wait_for()
    assert await names(page) == ["Ann Applicant a", "Bo Applicant a"]

    # Typing a rank number moves the row; the rest shift.
    await page.get_by_label("Rank of Ann Applicant a").fill("2")
    await page.get_by_label("Rank of Ann Applicant a").press("Enter")
    await page.get_by_role("status").filter(has_text="Ann Applicant a moved to rank 2").wait_for()
    assert await names(page) == ["Bo Applicant a", "Ann Applicant a"]
    await page.screenshot(path=str(artifacts / "rank-list.png"), full_page=True)

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export CSV").click()
    download = await download_info.value
    saved = artifacts / "rank-list.csv"
    await download.save_as(str(saved))
    content = await asyncio.to_thread(saved.read_text, encoding="utf-8-sig")
    exported = list(csv.reader(io.StringIO(content)))
    assert [row[:2] for row in exported[1:]] == [["1", "Bo Applicant a"], ["2", "Ann Applicant a"]]
    assert exported[2][3] == "12345678"

    await page.get_by_role("button", name="Revert to computed order").click()
    await page.wait_for_url("**notice=reverted")
    assert await names(page) == ["Ann Applicant a", "Bo Applicant a"]
    await context.close()
