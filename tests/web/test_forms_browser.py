"""Chromium: a coordinator builds a scoring form with the keyboard alone, then previews it."""

from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World

pytestmark = pytest.mark.browser


async def press_enter_on(page: Any, button: Any) -> None:
    await button.focus()
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def wait_for_focus(page: Any, element_id: str) -> None:
    # autofocus is applied once the new page has rendered
    await page.wait_for_function(f"() => document.activeElement?.id === {element_id!r}")


async def test_building_a_form_by_keyboard(
    browser: Any, live_server: Any, world: World, artifacts: Path
) -> None:
    page = await browser.new_page()
    await page.goto(str(live_server.make_url("/forms/new")))
    await page.get_by_label("Email").fill(world.a.coordinator_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/forms/new")

    await page.get_by_label("Name", exact=True).fill("Faculty interview")
    await page.locator("#item-0-label").fill("Communication")
    await press_enter_on(page, page.get_by_role("button", name="Add comment"))
    await wait_for_focus(page, "item-1-label")
    await page.keyboard.type("Comments")

    await press_enter_on(page, page.get_by_role("button", name="Move item 2 up"))
    await wait_for_focus(page, "item-0-down")
    assert await page.locator("#item-0-label").input_value() == "Comments"
    assert "Item moved up to position 1." in await page.get_by_role("status").inner_text()

    # Changing an item's kind re-renders it with that kind's fields, without saving.
    await page.locator("#item-0-kind").select_option("rating")
    await page.wait_for_selector("#item-0-scale_max")
    await page.locator("#item-0-scale_max").fill("11")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save", exact=True).click()
    alert = page.get_by_role("alert")
    assert "the scale ends at 10 or below" in await alert.inner_text()
    assert await page.locator("#item-0-scale_max").get_attribute("aria-invalid") == "true"
    await page.screenshot(path=str(artifacts / "form-editor-error.png"), full_page=True)

    await page.locator("#item-0-scale_max").fill("7")
    await page.locator("#item-0-scale_max").press("Enter")  # Enter in a field saves
    await page.wait_for_url("**/forms/*?notice=created")
    assert "Form created." in await page.locator("main").inner_text()
    await page.screenshot(path=str(artifacts / "form-editor.png"), full_page=True)

    await page.get_by_role("link", name="Preview the saved form").click()
    await page.wait_for_url("**/preview")
    assert await page.get_by_role("radio").count() == 7 + 5
    assert await page.get_by_role("radio", name="7").is_disabled()
    await page.screenshot(path=str(artifacts / "form-preview.png"), full_page=True)
