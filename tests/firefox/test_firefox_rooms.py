"""Debian's firefox-esr beside Chromium in the live rooms: each sees and hears the other, the
server moves the Firefox applicant on its one peer connection, and a meeting room mixes both.

Firefox runs with its fake-media preferences (a test pattern and a tone), driven over WebDriver
BiDi by `driver.mjs`; Chromium is the Playwright browser of the other live tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.factories import PASSWORD, World
from tests.firefox.firefox import Firefox
from tests.live.conftest import Day, day
from tests.live.test_browser_room import (
    MAGENTA_CAMERA,
    applicant_page,
    base_url,
    live_port,
    live_server,
    settings,
    staff_page,
    staff_pid,
    wait_connected,
)
from tests.web.test_magic_link import issue_link
from web.live import HUB, room_key

pytestmark = pytest.mark.browser
__all__ = ["day", "live_port", "live_server", "settings"]  # the fixtures this module reuses

T = TypeVar("T")

CONNECTED = "() => Boolean(window.interviewday) && window.interviewday.state === 'connected'"

# What the page receives from `id`: its tile, and the inbound audio and video of the tile's slot.
SLOT_MEDIA = """async (id) => {
  const d = window.interviewday;
  const tile = document.querySelector(`.tile[data-participant-id="${id}"]`);
  if (!d || !d.pc || !tile || tile.hidden) return null;
  const slot = Number(tile.dataset.slot);
  const transceivers = d.pc.getTransceivers();
  const inbound = async (transceiver) => {
    for (const r of (await transceiver.receiver.getStats()).values()) {
      if (r.type === "inbound-rtp") return r;
    }
    return {};
  };
  const video = await inbound(transceivers[3 + 2 * slot]);
  const audio = await inbound(transceivers[2 + 2 * slot]);
  const element = tile.querySelector("video");
  return {
    slot,
    width: element.videoWidth,
    playing: !element.paused,
    framesDecoded: video.framesDecoded || 0,
    audioPackets: audio.packetsReceived || 0,
    audioEnergy: audio.totalAudioEnergy || 0,
  };
}"""

CONNECTION = """() => {
  const d = window.interviewday;
  return {
    generation: d.connection.generation,
    marker: d.pc.__marker || null,
    same: d.pc === window.__pcBefore,
    room: document.getElementById("room-name").textContent,
  };
}"""

MARK_CONNECTION = """() => {
  window.__pcBefore = window.interviewday.pc;
  window.interviewday.pc.__marker = "before-move";
  return window.interviewday.connection.generation;
}"""


class FirefoxPage:
    """A Firefox page with the shape of a Playwright one, as far as these tests need."""

    def __init__(self, firefox: Firefox, name: str) -> None:
        self.firefox = firefox
        self.name = name

    async def evaluate(self, fn: str, arg: Any = None) -> Any:
        return await self.firefox.eval(self.name, fn, arg)


async def poll(read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float) -> T:
    """`read()` until `ok` holds; the last value is in the failure."""
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s; last: {value!r}")
        await asyncio.sleep(0.05)


async def sees_and_hears(page: Any, participant_id: str, within: float = 10) -> dict[str, Any]:
    """`page` shows `participant_id`'s video, its decoder keeps counting frames and audio with
    sound in it keeps arriving in the same slot."""

    async def read() -> Any:
        return await page.evaluate(SLOT_MEDIA, participant_id)

    first = await poll(
        read,
        lambda m: bool(m) and m["width"] > 0 and m["playing"] and m["framesDecoded"] > 0,
        within,
    )
    return await poll(
        read,
        lambda m: (
            bool(m)
            and m["slot"] == first["slot"]
            and m["framesDecoded"] >= first["framesDecoded"] + 5
            and m["audioPackets"] > first["audioPackets"] + 10
            and m["audioEnergy"] > first["audioEnergy"]
        ),
        5,
    )


async def firefox_applicant(
    firefox: Firefox, live_server: Any, client: Any, applicant_id: str, path: str
) -> FirefoxPage:
    token = await issue_link(client, applicant_id)
    base = base_url(live_server)
    await firefox.open("applicant", f"{base}{path}", first=f"{base}/a/{token}")
    page = FirefoxPage(firefox, "applicant")
    await firefox.wait(page.name, CONNECTED)
    return page


async def test_firefox_applicant_and_chromium_interviewer_see_and_hear_each_other(
    browser: Any, firefox: Firefox, live_server: Any, client: Any, world: World, day: Day
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await firefox_applicant(firefox, live_server, client, day.applicant, path)
    await wait_connected(interviewer)

    await sees_and_hears(applicant, staff_pid(day, day.interviewer1))
    await sees_and_hears(interviewer, applicant_pid)
    assert await applicant.evaluate("() => document.getElementById('room-name').textContent") == (
        "Room 1"
    )
    assert "Firefox" in await applicant.evaluate("() => navigator.userAgent")


async def test_firefox_applicant_is_moved_on_its_one_connection(
    browser: Any,
    firefox: Firefox,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    artifacts: Path,
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    second = await staff_page(browser, live_server, "iv2@a.test", path, init=MAGENTA_CAMERA)
    applicant = await firefox_applicant(firefox, live_server, client, day.applicant, path)
    for page in (interviewer, second):
        await wait_connected(page)
    await sees_and_hears(applicant, staff_pid(day, day.interviewer1))
    generation = await applicant.evaluate(MARK_CONNECTION)

    started = time.monotonic()
    await live_server.app[HUB].move(applicant_pid, room_key(day.session_id, day.room2), "Room 2")
    await sees_and_hears(applicant, staff_pid(day, day.interviewer2), within=3)
    print(f"Firefox: move → the new interviewer decoded: {time.monotonic() - started:.2f} s")
    after = await applicant.evaluate(CONNECTION)
    same = {"generation": generation, "marker": "before-move", "same": True, "room": "Room 2"}
    assert after == same
    await sees_and_hears(second, applicant_pid)
    await second.screenshot(path=str(artifacts / "chromium-sees-firefox-room2.png"))


async def test_meeting_room_with_firefox_and_chromium(
    browser: Any, firefox: Firefox, live_server: Any, client: Any, world: World, artifacts: Path
) -> None:
    meeting = world.a.meeting_room_id
    path = f"/live/meeting-rooms/{meeting}"
    director_pid = f"meeting:{meeting}/staff:{world.a.staff_id}"
    applicant_pid = f"meeting:{meeting}/applicant:{world.a.applicant_id}"
    base = base_url(live_server)
    # Firefox is the staff side here: the login form, then the meeting room.
    landed = await firefox.open(
        "director",
        f"{base}/login?next={path}",
        login={"email": world.a.director_email, "password": PASSWORD},
    )
    assert landed.endswith(path)
    director = FirefoxPage(firefox, "director")
    await firefox.wait(director.name, CONNECTED)
    applicant = await applicant_page(browser, live_server, client, world.a.applicant_id, path)
    await wait_connected(applicant)

    await sees_and_hears(applicant, director_pid)
    await sees_and_hears(director, applicant_pid)
    transceivers = "() => window.interviewday.pc.getTransceivers().length"
    assert await director.evaluate(transceivers) == 2 + 2 * 8
    await applicant.screenshot(path=str(artifacts / "chromium-sees-firefox-meeting.png"))
