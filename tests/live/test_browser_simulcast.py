"""Simulcast from Chromium, and what the page says when congestion control cuts what someone
receives (docs/protocol.md, "Simulcast and congestion control").

The server is real (as in test_browser_room); congestion control's decisions are simulated by
calling the hub's `_on_downlink`, the one place they leave the SFU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from portal.models import Applicant
from tests.browser import canvas_camera as browser_camera
from tests.factories import World
from tests.live.conftest import Day, day
from tests.live.test_browser_room import (
    applicant_page,
    live_port,
    live_server,
    settings,
    staff_page,
    staff_pid,
    wait_connected,
    wait_sees,
)
from tests.utils import wait_for
from web.keys import DB
from web.live import HUB

pytestmark = pytest.mark.browser
__all__ = ["day", "live_port", "live_server", "settings"]  # the fixtures this module reuses

# What an applicant might type as a name: it must show as these characters, never as markup.
HOSTILE_FIRST_NAME = '<img src=x data-hostile="1">Ann'

AUDIO_ONLY_SELF = (
    "Your connection is too weak for video. You can still hear everyone and they can hear you."
)
REDUCED_SELF = "Your connection is weak: video quality is lowered."
AUDIO_ONLY_FLAG = "Audio only (weak connection): they hear you but cannot see you"

# rid -> the width Chromium encodes it at (only the layers it sends).
OUTBOUND_WIDTHS = """async () => {
  const sender = window.interviewday.connection.sender("video");
  const widths = {};
  for (const r of (await sender.getStats()).values()) {
    if (r.type === "outbound-rtp" && r.kind === "video" && r.frameWidth) {
      widths[r.rid] = r.frameWidth;
    }
  }
  return widths;
}"""

ACTIVE_RIDS = """() => window.interviewday.connection.sender("video").getParameters().encodings
  .filter((e) => e.active).map((e) => e.rid)"""


def canvas_camera(width: int, height: int) -> str:
    """An init script: the page's camera is a `width`x`height` canvas with a moving square."""
    return browser_camera(width, height, "rgb(40, 90, 160)", "rgb(250, 200, 40)", 40, 8)


def forwarded_layers(hub: Any, participant_id: str) -> list[int]:
    """The simulcast layer each of a participant's video slots that shows someone forwards."""
    layers = hub.sfu.stats(participant_id).video_layers or {}
    return sorted(layers.values())


def layer_bytes(hub: Any, participant_id: str) -> list[int]:
    """Bytes the SFU received on each simulcast layer of a participant's camera."""
    source = hub.sfu._participants[participant_id].sources["video"]
    return [layer.bytes_in for layer in source.layers]


async def test_chromium_publishes_three_layers_and_is_seen(
    browser: Any, live_server: Any, client: Any, world: World, day: Day
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    publisher = staff_pid(day, day.interviewer1)
    hub = live_server.app[HUB]
    # Chromium's fake camera, at the 960×720 the room asks for.
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    for page in (applicant, interviewer):
        await wait_connected(page)

    offer = await interviewer.evaluate("() => window.interviewday.pc.localDescription.sdp")
    assert "a=simulcast:send q;h;f" in offer
    assert hub.sfu.stats(publisher).layers_in == 3
    # The applicant decodes the interviewer's video.
    await wait_sees(applicant, publisher)
    # Chromium encodes all three, a halving apart, and every one reaches the server.
    await wait_for(lambda: all(n > 0 for n in layer_bytes(hub, publisher)), 10)
    assert await interviewer.evaluate(OUTBOUND_WIDTHS) == {"q": 240, "h": 480, "f": 960}
    # On loopback congestion control forwards the applicant the full layer.
    await wait_for(lambda: forwarded_layers(hub, applicant_pid) == [2], 10)
    await applicant.wait_for_function(
        "(id) => document.querySelector(`.tile[data-participant-id='${id}'] video`)"
        ".videoWidth === 960",
        arg=publisher,
        timeout=5_000,
    )
    print(f"bytes per layer (q, h, f): {layer_bytes(hub, publisher)}")


async def test_a_smaller_camera_sends_its_full_picture_on_two_layers(
    browser: Any, live_server: Any, client: Any, world: World, day: Day
) -> None:
    """Chromium encodes two layers of a 640×480 picture and drops the last: the layers move
    up a halving (q 320×240, h 640×480) and f is off, so nobody gets less than the camera."""
    path = f"/live/sessions/{day.session_id}"
    publisher = staff_pid(day, day.interviewer1)
    hub = live_server.app[HUB]
    interviewer = await staff_page(
        browser, live_server, world.a.interviewer_email, path, init=canvas_camera(640, 480)
    )
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    for page in (applicant, interviewer):
        await wait_connected(page)

    assert hub.sfu.stats(publisher).layers_in == 3  # all three negotiated: f can come back
    await wait_sees(applicant, publisher)
    await wait_for(lambda: all(n > 0 for n in layer_bytes(hub, publisher)[:2]), 10)
    assert await interviewer.evaluate(OUTBOUND_WIDTHS) == {"q": 320, "h": 640}
    assert await interviewer.evaluate(ACTIVE_RIDS) == ["q", "h"]
    await applicant.wait_for_function(
        "(id) => document.querySelector(`.tile[data-participant-id='${id}'] video`)"
        ".videoWidth === 640",
        arg=publisher,
        timeout=10_000,
    )


async def test_the_weak_link_is_said_on_both_sides_as_text(
    browser: Any, live_server: Any, client: Any, world: World, day: Day, artifacts: Path
) -> None:
    async with live_server.app[DB]() as db, db.begin():
        person = await db.get(Applicant, day.applicant)
        assert person is not None
        person.first_name = HOSTILE_FIRST_NAME
        hostile_name = f"{HOSTILE_FIRST_NAME} {person.last_name}"
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    hub = live_server.app[HUB]
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    for page in (applicant, interviewer):
        await wait_connected(page)
    tile = interviewer.locator(f'.tile[data-participant-id="{applicant_pid}"]')
    await tile.wait_for(state="visible", timeout=5_000)
    assert await tile.locator(".tile-name").inner_text() == hostile_name

    status = applicant.get_by_role("status").filter(has=applicant.locator("#downlink-message"))
    message = applicant.locator("#downlink-message")
    flag = tile.locator(".flag-audio-only")
    assert await status.get_attribute("aria-live") == "polite"
    assert await message.is_hidden()
    assert await flag.is_hidden()

    hub._on_downlink(applicant_pid, "audio_only", 120_000)
    await message.wait_for(state="visible", timeout=2_000)
    assert await status.inner_text() == AUDIO_ONLY_SELF
    await flag.wait_for(state="visible", timeout=2_000)
    assert await flag.inner_text() == AUDIO_ONLY_FLAG
    # Said once to the interviewer, by name, as text.
    await interviewer.wait_for_function(
        "(name) => document.getElementById('live-banner').textContent"
        " === `${name} cannot see you now (weak connection). They can still hear you.`",
        arg=hostile_name,
        timeout=2_000,
    )
    # The applicant's own tile is not on its own stage; nobody else's tile has the flag.
    assert await applicant.locator(".flag-audio-only:visible").count() == 0
    await applicant.screenshot(path=str(artifacts / "applicant-audio-only.png"))
    await interviewer.screenshot(path=str(artifacts / "interviewer-sees-audio-only.png"))

    hub._on_downlink(applicant_pid, "reduced", 400_000)
    await applicant.wait_for_function(
        "(text) => document.getElementById('downlink-message').textContent === text",
        arg=REDUCED_SELF,
        timeout=2_000,
    )
    await flag.wait_for(state="hidden", timeout=2_000)

    hub._on_downlink(applicant_pid, "full", 3_000_000)
    await message.wait_for(state="hidden", timeout=2_000)
    assert await status.inner_text() == ""
    assert await flag.is_hidden()
    for page in (applicant, interviewer):
        assert await page.evaluate("() => document.querySelector('[data-hostile]') === null")
    # The interviewer's own page never said anything about its link.
    assert await interviewer.locator("#downlink-message").is_hidden()
