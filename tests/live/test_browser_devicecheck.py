"""The device check in Chromium with fake devices: preview, level meter, device menus, choices
remembered across visits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser


async def test_device_check_previews_measures_and_remembers(
    browser: Any, live_server: Any, artifacts: Path
) -> None:
    base = str(live_server.make_url("/")).rstrip("/")
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/device-check?next=/live/sessions/abc")
    status = page.get_by_role("status")
    await page.wait_for_function(
        "() => document.getElementById('dc-status').textContent.includes('working')", timeout=5_000
    )
    assert await status.inner_text() == "Your microphone and camera are working."
    await page.wait_for_function(
        "() => document.getElementById('dc-preview').videoWidth > 0", timeout=5_000
    )
    assert "mirrored" in (await page.get_attribute("#dc-preview", "class") or "")
    assert "Fake" in await page.inner_text("#dc-mic-name")
    # Chromium's fake microphone beeps: the meter moves.
    await page.wait_for_function(
        "() => document.getElementById('dc-mic-level').value > 0.01", timeout=5_000
    )
    assert await page.get_by_role("link", name="Join").get_attribute("href") == "/live/sessions/abc"
    await page.screenshot(path=str(artifacts / "device-check.png"))

    # Another microphone and the camera off: both remembered on the next visit.
    microphone = page.get_by_label("Microphone", exact=True).and_(page.locator("select"))
    await microphone.select_option(label="Fake Audio Input 1")
    await page.wait_for_function(
        "() => document.getElementById('dc-mic-name').textContent === 'Fake Audio Input 1'",
        timeout=5_000,
    )
    camera = page.get_by_role("button", name="Camera")
    await camera.click()
    assert await camera.get_attribute("aria-pressed") == "false"
    await page.locator("#dc-preview-off").wait_for(state="visible", timeout=5_000)
    await page.get_by_role("button", name="Play test sound").click()

    await page.reload()
    await page.wait_for_function(
        "() => document.getElementById('dc-mic-name').textContent === 'Fake Audio Input 1'",
        timeout=5_000,
    )
    assert await page.get_by_role("button", name="Camera").get_attribute("aria-pressed") == "false"
    assert await page.locator("#dc-preview-off").is_visible()
    assert await page.input_value("#dc-mic-select") != ""
