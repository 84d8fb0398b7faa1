"""The call controls' names are their visible labels, in both states (issue 13, item 10: "the
mic button's name and label differ"). Chromium, a meeting room (all four toggles)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.factories import World
from tests.live.test_browser_room import (
    live_port,
    live_server,
    settings,
    staff_page,
    wait_connected,
)

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # the fixtures this module reuses


async def name_is_label(button: Any) -> str:
    label = str(await button.locator(".ctl-label").inner_text()).strip()
    await expect(button).to_have_accessible_name(label)
    return label


async def test_each_toggle_is_named_by_its_label_pressed_or_not(
    browser: Any, live_server: Any, world: World
) -> None:
    path = f"/live/meeting-rooms/{world.a.meeting_room_id}"
    page = await staff_page(browser, live_server, world.a.director_email, path)
    await wait_connected(page)
    controls = page.get_by_role("navigation", name="Call controls")
    toggles = controls.locator("button[aria-pressed]")
    assert await toggles.count() == 4
    for index in range(4):
        button = toggles.nth(index)
        if await button.get_attribute("id") == "ctl-share":
            await name_is_label(button)  # pressing it asks the browser for a screen
            continue
        before = await button.get_attribute("aria-pressed")
        label = await name_is_label(button)
        await button.click()
        await expect(button).not_to_have_attribute("aria-pressed", before or "")
        assert await name_is_label(button) == label  # the same name in the other state
        # Found by that name whatever the state, as voice control and screen readers do.
        await expect(page.get_by_role("button", name=label, exact=True)).to_have_count(1)
    await expect(page.locator("#self-muted")).to_be_visible()  # muted, in words
    await page.context.close()
