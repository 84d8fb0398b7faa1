"""A meeting room in Chromium: two participants, a raised hand, a shared screen.

Headless Chromium with `--use-fake-ui-for-media-stream` answers getDisplayMedia with a fake
1280x720 screen, so sharing runs for real: the video sender's track is replaced (no
renegotiation) and the other participant's tile turns 16:9.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.factories import World
from tests.live.test_browser_room import (
    applicant_page,
    live_port,
    live_server,
    settings,
    staff_page,
    wait_connected,
    wait_sees,
)

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # the fixtures this module reuses

SENDING_SCREEN = """() => {
  const track = window.interviewday.pc.getTransceivers()[1].sender.track;
  return Boolean(track) && track.label.startsWith("screen");
}"""
TILE_ASPECT = """([id, wide]) => {
  const video = document.querySelector(`.tile[data-participant-id="${id}"] video`);
  if (!video || !video.videoHeight) return false;
  const ratio = video.videoWidth / video.videoHeight;
  return wide ? ratio > 1.6 : ratio < 1.4;
}"""


async def test_hand_and_screen_sharing_in_a_meeting_room(
    browser: Any, live_server: Any, client: Any, world: World, artifacts: Path
) -> None:
    meeting = world.a.meeting_room_id
    path = f"/live/meeting-rooms/{meeting}"
    director_pid = f"meeting:{meeting}/staff:{world.a.staff_id}"
    applicant_pid = f"meeting:{meeting}/applicant:{world.a.applicant_id}"
    director = await staff_page(browser, live_server, world.a.director_email, path)
    applicant = await applicant_page(browser, live_server, client, world.a.applicant_id, path)
    for page in (director, applicant):
        await wait_connected(page)
    await wait_sees(applicant, director_pid)
    await wait_sees(director, applicant_pid)
    assert await director.evaluate("window.interviewday.pc.getTransceivers().length") == 2 + 2 * 8

    # M mutes, and the other side sees it; typing in a text field never toggles anything.
    mic = applicant.get_by_role("button", name="Microphone")
    await applicant.locator("body").press("m")
    assert await mic.get_attribute("aria-pressed") == "false"
    assert await applicant.locator("#self-muted").is_visible()
    muted = director.locator(f'.tile[data-participant-id="{applicant_pid}"] .flag-muted')
    await muted.wait_for(state="visible", timeout=2_000)
    await applicant.evaluate(
        "document.getElementById('main').append(Object.assign("
        "document.createElement('textarea'), {id: 'notes', ariaLabel: 'Notes'}))"
    )
    await applicant.get_by_label("Notes").press_sequentially("mv?")
    assert await mic.get_attribute("aria-pressed") == "false"
    assert await applicant.input_value("#notes") == "mv?"
    assert not await applicant.locator("#shortcuts-dialog").is_visible()
    await applicant.evaluate("document.activeElement.blur()")  # out of the text field
    await applicant.locator("body").press("?")
    await applicant.get_by_role("dialog", name="Keyboard shortcuts").wait_for(timeout=2_000)
    await applicant.keyboard.press("Escape")
    await applicant.locator("body").press("m")
    assert await mic.get_attribute("aria-pressed") == "true"
    await muted.wait_for(state="hidden", timeout=2_000)

    # A microphone that goes away is shown as off and said; M opens one again.
    await applicant.evaluate(
        "window.interviewday.local.tracks.audio.dispatchEvent(new Event('ended'))"
    )
    await muted.wait_for(state="visible", timeout=2_000)
    assert "Your microphone stopped" in await applicant.inner_text("#live-banner")
    assert await mic.get_attribute("aria-pressed") == "false"
    await applicant.locator("body").press("m")
    await muted.wait_for(state="hidden", timeout=2_000)
    assert await mic.get_attribute("aria-pressed") == "true"

    # V turns the camera off for real (nothing sent), and back on.
    camera_off = director.locator(f'.tile[data-participant-id="{applicant_pid}"] .tile-off')
    await applicant.locator("body").press("v")
    await camera_off.wait_for(state="visible", timeout=2_000)
    assert (
        await applicant.evaluate("window.interviewday.pc.getTransceivers()[1].sender.track") is None
    )
    assert await applicant.get_by_role("button", name="Camera").get_attribute("aria-pressed") == (
        "false"
    )
    await applicant.locator("body").press("v")
    await camera_off.wait_for(state="hidden", timeout=2_000)
    await wait_sees(director, applicant_pid)

    # A raised hand shows on the other person's tile and on the button itself.
    hand = applicant.get_by_role("button", name="Raise hand")
    await hand.click()
    assert await hand.get_attribute("aria-pressed") == "true"
    flag = director.locator(f'.tile[data-participant-id="{applicant_pid}"] .flag-hand')
    await flag.wait_for(state="visible", timeout=2_000)
    assert await director.inner_text("#live-banner") == "Ann Applicant a raised a hand"
    assert await flag.inner_text() == "Hand raised"
    await director.screenshot(path=str(artifacts / "director-sees-hand.png"))
    await hand.click()
    await flag.wait_for(state="hidden", timeout=2_000)

    # Screen sharing: the same sender carries the screen; the director sees a 16:9 picture.
    await director.evaluate("window.__pcBefore = window.interviewday.pc")
    offer_before = await director.evaluate("window.interviewday.pc.localDescription.sdp")
    share = director.get_by_role("button", name="Share screen")
    await share.click()
    await director.wait_for_function(SENDING_SCREEN, timeout=3_000)
    assert await share.get_attribute("aria-pressed") == "true"
    await applicant.wait_for_function(TILE_ASPECT, arg=[director_pid, True], timeout=5_000)
    await applicant.locator(f'.tile[data-participant-id="{director_pid}"] .flag-screen').wait_for(
        state="visible", timeout=2_000
    )
    await applicant.screenshot(path=str(artifacts / "applicant-sees-screen.png"))
    assert await director.evaluate("window.interviewday.pc === window.__pcBefore")
    assert await director.evaluate("window.interviewday.pc.localDescription.sdp") == offer_before

    # Stopping brings the camera back on the same sender.
    await share.click()
    await applicant.wait_for_function(TILE_ASPECT, arg=[director_pid, False], timeout=5_000)
    label = await director.evaluate(
        "window.interviewday.pc.getTransceivers()[1].sender.track.label"
    )
    assert not label.startswith("screen")
