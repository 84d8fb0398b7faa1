"""Chromium, the session pages as a coordinator meets them (issue 13, item 10): applicants of
the same name told apart in "Assign applicants", no "External link" for a scoring-only room,
and the Mode select inside its card."""

from __future__ import annotations

from typing import Any

import pytest

from portal.models import Applicant
from rooms.models import InterviewSession
from tests.factories import World
from tests.web.test_browser_scoring import logged_in_page
from web.keys import DB

pytestmark = pytest.mark.browser


async def coordinator_page(
    browser: Any, live_server: Any, world: World, path: str, **context: Any
) -> Any:
    base = str(live_server.make_url("/")).rstrip("/")
    page = await logged_in_page(
        await browser.new_context(**context), base, world.a.coordinator_email
    )
    await page.goto(base + path)
    return page


async def test_same_name_applicants_show_their_email(
    browser: Any, live_server: Any, world: World, client: Any
) -> None:
    a = world.a
    async with client.app[DB]() as db, db.begin():
        other = await db.get(Applicant, a.other_applicant_id)
        assert other is not None
        other.first_name = "Ann"  # now both are "Ann Applicant a"
    page = await coordinator_page(browser, live_server, world, f"/sessions/{a.session_id}")
    options = await page.get_by_label("Applicants without a seat").locator("option").all()
    texts = [await option.inner_text() for option in options]
    assert texts == [
        "Ann Applicant a — applicant1@a.test",
        "Ann Applicant a — applicant2@a.test",
    ]
    values = [await option.get_attribute("value") for option in options]
    assert values == [a.applicant_id, a.other_applicant_id]


@pytest.mark.parametrize(
    ("mode", "has_link"), [("scoring-only", False), ("native", False), ("external", True)]
)
async def test_only_external_rooms_ask_for_a_link(
    browser: Any, live_server: Any, world: World, client: Any, mode: str, has_link: bool
) -> None:
    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, world.a.session_id)
        assert session is not None
        session.mode = mode
    page = await coordinator_page(browser, live_server, world, f"/sessions/{world.a.session_id}")
    await page.get_by_role("heading", name="Add a room").wait_for()
    assert await page.get_by_label("External link").count() == (1 if has_link else 0)


@pytest.mark.parametrize("width", [1280, 900, 480])
async def test_the_mode_select_stays_inside_its_card(
    browser: Any, live_server: Any, world: World, width: int
) -> None:
    page = await coordinator_page(
        browser, live_server, world, "/sessions/new", viewport={"width": width, "height": 900}
    )
    mode = page.get_by_label("Mode", exact=True)
    await mode.select_option("external")  # the longest choice
    select = await mode.bounding_box()
    field = await page.locator(".field", has=mode).bounding_box()
    card = await page.locator("form.card").bounding_box()
    assert select["x"] + select["width"] <= field["x"] + field["width"] + 0.5, (select, field)
    assert field["x"] + field["width"] <= card["x"] + card["width"] + 0.5, (field, card)
    # Nor does anything else in the card.
    wide = await page.evaluate(
        """() => {
          const card = document.querySelector('form.card').getBoundingClientRect();
          return [...document.querySelectorAll('form.card *')]
            .filter((e) => e.getBoundingClientRect().right > card.right + 0.5)
            .map((e) => e.id || e.name || e.tagName);
        }"""
    )
    assert wide == [], wide
