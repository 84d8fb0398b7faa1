"""Phones: staff pages fit a 480 px wide screen (Chromium): nothing runs off to the side."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import World
from tests.live.test_browser_room import live_port, live_server, settings, staff_page

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # fixtures used by name

PAGE_WIDTH = "() => document.documentElement.scrollWidth"


@pytest.mark.parametrize("who", ["director", "coordinator"])
async def test_the_top_bar_fits_a_phone(
    browser: Any, live_server: Any, world: World, who: str
) -> None:
    email = world.a.director_email if who == "director" else world.a.coordinator_email
    page = await staff_page(browser, live_server, email, "/dashboard")
    await page.set_viewport_size({"width": 480, "height": 800})
    assert await page.evaluate(PAGE_WIDTH) <= 480
    await page.get_by_role("button", name="Log out").scroll_into_view_if_needed()
    box = await page.get_by_role("button", name="Log out").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 480
