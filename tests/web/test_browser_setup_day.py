"""Chromium: a coordinator prepares a day in the pages alone, through to a published itinerary."""

from pathlib import Path
from typing import Any

import pytest

from portal.models import Applicant
from tests.factories import PASSWORD, World
from tests.web.test_sessions_api import add_interviewers
from web.keys import DB

pytestmark = pytest.mark.browser


async def test_coordinator_builds_publishes_and_edits_an_itinerary(
    browser: Any, live_server: Any, world: World, artifacts: Path, client: Any
) -> None:
    await add_interviewers(client, world.a.program_id, 3)
    async with client.app[DB]() as db, db.begin():
        for first in ("Cy", "Di"):
            db.add(
                Applicant(
                    program_id=world.a.program_id,
                    email=f"{first}@a.test",
                    first_name=first,
                    last_name="Extra",
                    status="invited",
                )
            )
    page = await browser.new_page()
    base = str(live_server.make_url("/")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(world.a.coordinator_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")

    await page.goto(base + "/sessions/new")
    await page.get_by_label("Name").fill("February interview day")
    await page.get_by_label("Date").fill("2027-02-10")
    await page.get_by_label("Start time").fill("08:30")
    await page.get_by_label("Rounds").fill("3")
    await page.get_by_label("Capacity (applicants)").fill("3")
    await page.get_by_role("button", name="Create session").click()
    await page.wait_for_url("**/sessions/*")
    # 3 × (20 + 5) minutes after 08:30.
    assert await page.locator("#end-time").inner_text() == "09:45"

    for number in range(3):
        await page.get_by_label("Room name").fill(f"Room {number + 1}")
        await page.get_by_label(f"Interviewer {number}", exact=True).check()
        await page.get_by_role("button", name="Add room").click()
        await page.wait_for_url("**notice=room-added")
    rows = page.locator("table").first.locator("tbody tr")
    assert await rows.count() == 3

    await page.get_by_label("Applicants without a seat").select_option(
        label=[
            "Ann Applicant a — applicant1@a.test",
            "Bo Applicant a — applicant2@a.test",
            "Cy Extra — Cy@a.test",
        ]
    )
    await page.get_by_role("button", name="Assign to this session").click()
    await page.wait_for_url("**notice=assigned-3")
    await page.get_by_label("Applicants without a seat").select_option(label="Di Extra — Di@a.test")
    await page.get_by_role("button", name="Assign to this session").click()
    assert "is full" in await page.get_by_role("alert").first.inner_text()
    assert "3 of 3 seats" in await page.locator("#booked-h").inner_text()

    await page.get_by_role("link", name="Itinerary").click()
    await page.get_by_role("button", name="Generate itinerary").click()
    await page.wait_for_url("**notice=generated")
    await page.get_by_role("button", name="Publish").click()
    await page.wait_for_url("**notice=published")
    assert (await page.locator("#itinerary-status").inner_text()).lower() == "published"

    grid = page.locator("#itinerary-grid")
    round2 = {
        await cell.get_attribute("data-room"): (await cell.inner_text()).strip()
        for cell in await grid.locator('td[data-round="2"]').all()
    }
    first, second = round2["Room 1"], round2["Room 2"]
    await page.get_by_label("Round", exact=True).first.select_option("2")
    await page.locator("#swap-a").select_option(label=first)
    await page.locator("#swap-b").select_option(label=second)
    await page.get_by_role("button", name="Swap", exact=True).click()
    await page.wait_for_url("**notice=swapped")
    after = {
        await cell.get_attribute("data-room"): (await cell.inner_text()).strip()
        for cell in await grid.locator('td[data-round="2"]').all()
    }
    assert after["Room 1"] == second and after["Room 2"] == first
    assert await page.get_by_role("heading", name="Changes since publishing").count() == 1
    await page.screenshot(path=str(artifacts / "itinerary.png"), full_page=True)
