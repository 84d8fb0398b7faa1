"""Chromium through the proxy: an interviewer's room page on a running day, across three nodes
behind Debian's haproxy. The node that owns the session is killed with kill -9: the page
reconnects by itself (any node; the socket is relayed to the new owner), builds a new peer
connection and shows its applicant's video again, in the room of the current round."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.browser import browser
from tests.cluster.day import running_day
from tests.cluster.harness import DEMO_PASSWORD, topology

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.browser]
__all__ = ["browser"]  # a fixture, used by name

INTERVIEWER = "interviewer1@demo.test"
FRAMES_DECODED = """async () => {
  const pc = window.interviewday && window.interviewday.pc;
  if (!pc) return 0;
  let frames = 0;
  for (const transceiver of pc.getTransceivers().slice(2)) {
    const stats = await transceiver.receiver.getStats();
    for (const report of stats.values()) {
      const video = report.type === "inbound-rtp" && report.kind === "video";
      if (video) frames += report.framesDecoded || 0;
    }
  }
  return frames;
}"""


async def _decoding(page: Any, within_s: float) -> float:
    """Seconds until the page's current peer connection has decoded 10 video frames."""
    started = time.monotonic()
    await page.wait_for_function(
        "() => window.interviewday && window.interviewday.state === 'connected'",
        timeout=within_s * 1000,
    )
    while time.monotonic() - started < within_s:
        if await page.evaluate(FRAMES_DECODED) >= 10:
            return time.monotonic() - started
        await page.wait_for_timeout(100)
    raise AssertionError(f"no video decoded within {within_s} s")


async def test_a_browser_comes_back_after_its_node_is_killed(
    browser: Any, video_clips: Any, audio_clip: Any
) -> None:
    async with (
        topology(nodes=3, proxy="haproxy") as top,
        running_day(
            top, list(video_clips.values()), audio_clip, in_browser=frozenset({INTERVIEWER})
        ) as day,
    ):
        context = await browser.new_context()
        page = await context.new_page()
        path = f"/live/sessions/{day.session_id}"
        await page.goto(f"{top.proxy_url}/login?next={path}")
        await page.get_by_label("Email").fill(INTERVIEWER)
        await page.get_by_label("Password").fill(DEMO_PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(f"**{path}")
        await _decoding(page, 20)
        first_pc = await page.evaluate("() => window.interviewday.connection.generation")

        owner = await day.owner_index()
        assert owner is not None
        killed = time.monotonic()
        await top.kill(owner, signal.SIGKILL)
        await top.wait_exit(owner)
        await page.wait_for_function(
            "(first) => window.interviewday.connection.generation > first",
            arg=first_pc,
            timeout=20_000,
        )
        await _decoding(page, 20)
        back_s = time.monotonic() - killed
        assert back_s < 15, back_s
        snapshot = await day.day()
        assert snapshot is not None
        interviewer = next(p for p in day.people if p.email == INTERVIEWER)
        expected = day.expected_room(snapshot, interviewer)
        room_key = await page.evaluate("() => window.interviewday.room.roomKey")
        assert room_key == expected
        assert not [e for e in day.tally.errors if e[0] >= killed], day.tally.errors
        await context.close()
