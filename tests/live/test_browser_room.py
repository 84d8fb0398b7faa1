"""Debian's Chromium with fake media in the room page: an applicant and an interviewer see each
other; the server moves the applicant to the next room on the same peer connection.

The join answer names the socket.io node (`url`, from `public_url`), so these tests run the live
server on a port chosen up front and set `public_url` to it.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.settings import Settings
from tests.browser import canvas_camera
from tests.conftest import make_settings
from tests.factories import PASSWORD, World
from tests.live.conftest import Day
from tests.utils import wait_for
from tests.web.test_magic_link import issue_link
from web.live import HUB, SIO, room_key

pytestmark = pytest.mark.browser

# A camera that shows solid magenta, so the applicant's page can tell, frame by frame, when
# the new room's interviewer appears (Chromium's fake cameras all look alike).
MAGENTA_CAMERA = canvas_camera(320, 240, "rgb(255, 0, 255)", "rgb(120, 0, 120)")

INBOUND_FRAMES = """async (slotIndex) => {
  const pc = window.interviewday.pc;
  const transceiver = pc.getTransceivers()[3 + 2 * slotIndex];
  const stats = await transceiver.receiver.getStats();
  for (const report of stats.values()) {
    if (report.type === "inbound-rtp" && report.kind === "video") return report.framesDecoded || 0;
  }
  return 0;
}"""

TILE_PLAYING = """(id) => {
  const video = document.querySelector(`.tile[data-participant-id="${id}"] video`);
  return Boolean(video) && video.videoWidth > 0 && !video.paused;
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_port() -> int:
    return _free_port()


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path, live_port: int) -> Settings:
    return make_settings(sqlite_url, tmp_path, public_url=f"http://127.0.0.1:{live_port}")


@pytest.fixture
async def live_server(
    aiohttp_server: Any, settings: Settings, clock: FakeClock, live_port: int
) -> Any:
    from web.app import create_app

    return await aiohttp_server(create_app(settings, clock=clock), host="127.0.0.1", port=live_port)


def base_url(live_server: Any) -> str:
    return str(live_server.make_url("/")).rstrip("/")


async def staff_page(browser: Any, live_server: Any, email: str, path: str, init: str = "") -> Any:
    context = await browser.new_context()
    if init:
        await context.add_init_script(init)
    page = await context.new_page()
    await page.goto(f"{base_url(live_server)}/login?next={path}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**{path}")
    return page


async def applicant_page(
    browser: Any, live_server: Any, client: Any, applicant_id: str, path: str
) -> Any:
    context = await browser.new_context()
    page = await context.new_page()
    token = await issue_link(client, applicant_id)
    # The link sets the session cookie on this context; its redirect target is not our page.
    opened = await page.request.get(f"{base_url(live_server)}/a/{token}", max_redirects=0)
    assert opened.status == 303
    await page.goto(f"{base_url(live_server)}{path}")
    return page


async def wait_connected(page: Any) -> None:
    await page.wait_for_function(
        "() => window.interviewday && window.interviewday.state === 'connected'", timeout=10_000
    )


DEBUG_STATE = """async () => {
  const d = window.interviewday;
  const stats = [];
  for (const r of (await d.pc.getStats()).values()) {
    if (r.type === "inbound-rtp" || r.type === "outbound-rtp")
      stats.push([r.type, r.kind, r.mid, r.framesDecoded ?? r.framesEncoded,
                  r.packetsReceived ?? r.packetsSent, r.keyFramesDecoded]);
  }
  const tiles = [...document.querySelectorAll(".tile")].map((t) => [
    t.dataset.slot, t.dataset.participantId, t.hidden, t.querySelector("video").videoWidth,
    t.querySelector("video").paused, t.querySelector("video").readyState]);
  return JSON.stringify({ state: d.state, pc: d.pc.connectionState, layout: d.layout,
    peers: d.room.peers.map((p) => p.participant_id), tiles, stats });
}"""


async def wait_sees(page: Any, participant_id: str, within_ms: float = 10_000) -> None:
    """The tile of `participant_id` plays video and its decoder keeps counting frames."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_function(TILE_PLAYING, arg=participant_id, timeout=within_ms)
    except PlaywrightTimeout:
        raise AssertionError(
            f"{participant_id} not seen: {await page.evaluate(DEBUG_STATE)}"
        ) from None
    slot = int(
        await page.get_attribute(f'.tile[data-participant-id="{participant_id}"]', "data-slot")
    )
    first = await page.evaluate(INBOUND_FRAMES, slot)
    await page.wait_for_function(
        f"async () => (await ({INBOUND_FRAMES})({slot})) > {first}", timeout=5_000
    )


def staff_pid(day: Day, staff_id: str) -> str:
    return f"{day.session_id}/staff:{staff_id}"


async def test_applicant_and_interviewer_see_each_other_then_the_applicant_moves(
    browser: Any, live_server: Any, client: Any, world: World, day: Day, artifacts: Path
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    second = await staff_page(browser, live_server, "iv2@a.test", path, init=MAGENTA_CAMERA)
    for page in (interviewer, applicant, second):
        await wait_connected(page)

    await wait_sees(applicant, staff_pid(day, day.interviewer1))
    await wait_sees(interviewer, applicant_pid)
    assert await applicant.inner_text("#room-name") == "Room 1"
    assert "Int a" in await applicant.inner_text("#room-peers")
    assert await interviewer.text_content("#room-badge") == "Applicant joined"
    assert await interviewer.locator("aside#side-panel").count() == 1
    # The scoring panel can follow the room without a socket of its own.
    applicant_seen = await interviewer.evaluate(
        """() => new Promise((resolve) => {
          document.addEventListener("interviewday:room", (e) => resolve(e.detail.applicant), {
            once: true,
          });
          window.interviewday.connection._fireRoom();
        })"""
    )
    assert applicant_seen["participant_id"] == applicant_pid
    assert await second.text_content("#room-badge") == "Waiting for applicant"
    await applicant.screenshot(path=str(artifacts / "applicant-room1.png"))
    await interviewer.screenshot(path=str(artifacts / "interviewer-room1.png"))

    # Watch the slot that shows the first interviewer: its first magenta frame is the second.
    await applicant.evaluate(
        """(id) => {
          window.__pcBefore = window.interviewday.pc;
          window.interviewday.pc.__marker = "before-move";
          window.__magentaAt = null;
          window.__movedAt = null;
          window.interviewday.connection.addEventListener("moved", () => {
            window.__movedAt = performance.now();
          });
          const video = document.querySelector(`.tile[data-participant-id="${id}"] video`);
          const canvas = document.createElement("canvas");
          canvas.width = canvas.height = 8;
          const g = canvas.getContext("2d", { willReadFrequently: true });
          const onFrame = (now) => {
            g.drawImage(video, 0, 0, 8, 8);
            const [r, gr, b] = g.getImageData(0, 0, 1, 1).data;
            if (r > 200 && gr < 80 && b > 200) { window.__magentaAt = now; return; }
            video.requestVideoFrameCallback(onFrame);
          };
          video.requestVideoFrameCallback(onFrame);
        }""",
        staff_pid(day, day.interviewer1),
    )
    started = time.monotonic()
    await live_server.app[HUB].move(applicant_pid, room_key(day.session_id, day.room2), "Room 2")
    await applicant.wait_for_function("() => window.__magentaAt !== null", timeout=3_000)
    elapsed = time.monotonic() - started
    in_page_ms = await applicant.evaluate("window.__magentaAt - window.__movedAt")
    print(
        f"move → first frame of the new room: {elapsed * 1000:.0f} ms (test), "
        f"{in_page_ms:.0f} ms after the `moved` event (requestVideoFrameCallback)"
    )
    assert elapsed < 1.0
    same_pc = await applicant.evaluate(
        "[window.interviewday.pc === window.__pcBefore, window.interviewday.pc.__marker]"
    )
    assert same_pc == [True, "before-move"]
    await wait_sees(applicant, staff_pid(day, day.interviewer2), within_ms=1_000)
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Room 2'", timeout=1_000
    )
    assert "Second Interviewer" in await applicant.inner_text("#room-peers")
    await second.wait_for_function(TILE_PLAYING, arg=applicant_pid, timeout=2_000)
    await interviewer.wait_for_function(
        "() => !document.getElementById('waiting').hidden", timeout=2_000
    )
    await applicant.screenshot(path=str(artifacts / "applicant-room2.png"))
    await second.screenshot(path=str(artifacts / "interviewer2-room2.png"))


async def test_the_room_comes_back_after_the_media_or_the_socket_drops(
    browser: Any, live_server: Any, client: Any, world: World, day: Day, artifacts: Path
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer_pid = staff_pid(day, day.interviewer1)
    hub = live_server.app[HUB]
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    joins: list[str] = []
    applicant.on("request", lambda r: joins.append(r.url) if r.url.endswith("/join") else None)
    for page in (interviewer, applicant):
        await wait_connected(page)
    await wait_sees(applicant, interviewer_pid)
    await applicant.evaluate(
        """() => {
          window.__states = [];
          window.interviewday.connection.addEventListener("status", (e) => {
            window.__states.push(e.detail.state);
          });
          window.__pcBefore = window.interviewday.pc;
        }"""
    )

    # The server lost our media: a new peer connection on the same socket, same room.
    await hub.deliver("media_failed", {"state": "failed"}, participant_id=applicant_pid)
    await applicant.wait_for_function(
        "() => window.interviewday.pc !== window.__pcBefore"
        " && window.interviewday.state === 'connected'",
        timeout=10_000,
    )
    await wait_sees(applicant, interviewer_pid)
    await wait_sees(interviewer, applicant_pid)
    assert "reconnecting" in await applicant.evaluate("window.__states")
    assert await applicant.locator(".live-left:visible").count() == 0  # no full-screen overlay

    # The socket drops after a move: a fresh join token, a new peer connection, and the
    # server puts us back where we were (Room 2), not where the token first said.
    await hub.move(applicant_pid, room_key(day.session_id, day.room2), "Room 2")
    await applicant.wait_for_function(
        "() => document.getElementById('room-name').textContent === 'Room 2'", timeout=2_000
    )
    joins_before = len(joins)
    await applicant.evaluate("window.__pcBefore = window.interviewday.pc")
    member = hub.presence.get(applicant_pid)
    await live_server.app[SIO].disconnect(member.sid, namespace="/live")
    await applicant.wait_for_function(
        "() => window.interviewday.pc !== window.__pcBefore"
        " && window.interviewday.state === 'connected'",
        timeout=10_000,
    )
    assert len(joins) > joins_before
    assert await applicant.text_content("#room-name") == "Room 2"
    assert hub.presence.get(applicant_pid).room_key == room_key(day.session_id, day.room2)
    await hub.move(applicant_pid, room_key(day.session_id, day.room1), "Room 1")
    await wait_sees(applicant, interviewer_pid)
    await applicant.screenshot(path=str(artifacts / "applicant-after-reconnects.png"))


async def test_notices_quality_waiting_and_the_clock_offset(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    clock: FakeClock,
    artifacts: Path,
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer_pid = staff_pid(day, day.interviewer1)
    hub = live_server.app[HUB]
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    for page in (interviewer, applicant):
        await wait_connected(page)
    await wait_sees(applicant, interviewer_pid)

    # The quality icon appears only while quality is down.
    member = hub.presence.get(interviewer_pid)
    room1 = room_key(day.session_id, day.room1)
    await hub.deliver("peer", {**member.public(), "quality": "degraded"}, room_key=room1)
    quality = applicant.locator(f'.tile[data-participant-id="{interviewer_pid}"] .flag-quality')
    await quality.wait_for(state="visible", timeout=2_000)
    assert await quality.inner_text() == "Unstable connection"
    await hub.deliver("peer", member.public(), room_key=room1)
    await quality.wait_for(state="hidden", timeout=2_000)
    me = hub.presence.get(applicant_pid).public()
    await hub.deliver("peer", {**me, "quality": "bad"}, room_key=room1)
    own = applicant.locator("#self-quality")
    await own.wait_for(state="visible", timeout=2_000)
    assert await own.inner_text() == "Your connection is poor"
    await hub.deliver("peer", me, room_key=room1)
    await own.wait_for(state="hidden", timeout=2_000)

    # A coordinator's broadcast stays until dismissed; a move is announced before it happens.
    notice = {"type": "broadcast", "message": "Lunch is at noon.", "from": "Coord a"}
    await hub.deliver("timetrack", notice, participant_id=applicant_pid)
    banner = applicant.locator("#live-notice")
    await banner.wait_for(state="visible", timeout=2_000)
    assert "Coord a: Lunch is at noon." in await banner.inner_text()
    moving = {"type": "moving", "round": 2, "room_name": "Room 2", "in_seconds": 10}
    await hub.deliver("timetrack", moving, participant_id=applicant_pid)
    await applicant.wait_for_function(
        "() => document.getElementById('live-banner').textContent"
        " === 'Moving you to Room 2 in 10 s'",
        timeout=2_000,
    )
    await applicant.get_by_role("button", name="Dismiss").click()
    assert not await banner.is_visible()

    # Alone in the next room: the applicant is told the interviewer will let them in.
    await hub.move(applicant_pid, room_key(day.session_id, day.room2), "Room 2")
    waiting = applicant.locator("#waiting")
    await waiting.wait_for(state="visible", timeout=2_000)
    assert await waiting.inner_text() == "Your interviewer will let you in shortly."
    assert await applicant.inner_text("#room-peers") == "No one else is here yet"
    assert await applicant.inner_text("#live-banner") == "You are now in Room 2"
    # "Connected" was said once and went quiet; no toast while all is well.
    await applicant.locator("#connection-status.is-quiet").wait_for(state="attached", timeout=3_000)
    await applicant.screenshot(path=str(artifacts / "applicant-waiting.png"))

    # Heartbeats every 2 s give the offset to the server's clock. The fake clock stands still,
    # so only a fresh sample can be compared with it: drop the old ones, take the next.
    offset, now_ms = await applicant.evaluate(
        """() => new Promise((resolve) => {
          const clock = window.interviewday.connection.clock;
          clock.samples = [];
          const check = () => clock.samples.length
            ? resolve([window.interviewday.clockOffsetMs, Date.now()])
            : setTimeout(check, 5);
          check();
        })"""
    )
    assert abs(offset - (clock.now() * 1000 - now_ms)) < 500

    # A reload lands where the day had moved the applicant, not in the token's first room.
    await applicant.reload()
    await wait_connected(applicant)
    assert await applicant.text_content("#room-name") == "Room 2"

    # Leave says goodbye: the applicant's page says so, and the server forgets them.
    await applicant.get_by_role("button", name="Leave").click()
    await applicant.get_by_role("heading", name="You left the room").wait_for(timeout=2_000)
    await applicant.wait_for_function("() => window.interviewday.state === 'left'", timeout=2_000)
    assert await applicant.locator(".controls").is_hidden()
    await wait_for(lambda: hub.presence.get(applicant_pid) is None, 2)
