"""The device check tells a person on a browser that cannot join (or that was never tested) so,
and its toggles are named by what they show. Chromium emulates the other browsers (an init
script removes WebRTC; another user agent); Firefox is the real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.firefox.firefox import Firefox

pytestmark = pytest.mark.browser

NO_WEBRTC = """
delete window.RTCPeerConnection;
delete window.webkitRTCPeerConnection;
delete window.RTCRtpTransceiver;
"""
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Safari/605.1.15"
)
CHROME_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1"
)
WORKING = "() => document.getElementById('dc-status').textContent.includes('working')"


def device_check_url(live_server: Any) -> str:
    return f"{str(live_server.make_url('/')).rstrip('/')}/device-check?next=/live/sessions/abc"


async def open_device_check(
    browser: Any, live_server: Any, *, init: str = "", user_agent: str | None = None
) -> Any:
    context = await browser.new_context(**({"user_agent": user_agent} if user_agent else {}))
    if init:
        await context.add_init_script(init)
    page = await context.new_page()
    await page.goto(device_check_url(live_server))
    return page


async def test_a_browser_without_webrtc_is_told_it_cannot_join(
    browser: Any, live_server: Any, artifacts: Path
) -> None:
    page = await open_device_check(browser, live_server, init=NO_WEBRTC)
    alert = page.get_by_role("alert")
    await alert.wait_for(timeout=5_000)
    text = await alert.inner_text()
    assert "This browser cannot join the video rooms" in text
    assert "RTCPeerConnection" in text and "RTCRtpTransceiver" in text
    assert "Chrome, Edge or Firefox" in text
    assert await page.get_by_role("link", name="Join").count() == 0
    assert "alert-error" in (await alert.get_attribute("class") or "")
    await page.screenshot(path=str(artifacts / "device-check-unsupported.png"))


@pytest.mark.parametrize("user_agent", [SAFARI, CHROME_ON_IPHONE], ids=["safari", "iphone"])
async def test_an_untested_browser_is_warned_and_may_still_join(
    browser: Any, live_server: Any, user_agent: str
) -> None:
    page = await open_device_check(browser, live_server, user_agent=user_agent)
    alert = page.get_by_role("alert")
    await alert.wait_for(timeout=5_000)
    assert "has not been tested" in await alert.inner_text()
    assert "alert-warn" in (await alert.get_attribute("class") or "")
    assert await page.get_by_role("link", name="Join").is_visible()


async def test_chromium_is_supported_and_the_toggles_are_named_by_their_text(
    browser: Any, live_server: Any
) -> None:
    page = await open_device_check(browser, live_server)
    await page.wait_for_function(WORKING, timeout=5_000)
    assert await page.get_by_role("alert").count() == 0  # hidden: not in the tree
    for device in ("Microphone", "Camera"):
        for state in ("on", "off", "on"):
            name = f"{device} {state}"
            button = page.get_by_role("button", name=name, exact=True)
            await expect(button).to_have_accessible_name(name)
            assert " ".join((await button.inner_text()).split()) == name
            assert await button.get_attribute("aria-pressed") == str(state == "on").lower()
            await button.click()


async def test_firefox_is_supported_in_the_device_check(firefox: Firefox, live_server: Any) -> None:
    await firefox.open("check", device_check_url(live_server))
    await firefox.wait("check", WORKING)
    seen = await firefox.eval(
        "check",
        """() => ({
          browser: window.interviewdayDeviceCheck.browser,
          alertHidden: document.getElementById("dc-browser").hidden,
          join: !document.getElementById("dc-join").hidden,
          mic: document.getElementById("dc-mic-toggle").textContent.trim().replace(/\\s+/g, " "),
        })""",
    )
    assert seen == {
        "browser": {
            "supported": True,
            "secure": True,
            "missing": [],
            "engine": "firefox",
            "tested": True,
        },
        "alertHidden": True,
        "join": True,
        "mic": "Microphone on",
    }
