"""Chromium: the interviewer's "Please score" banner is readable, its "Open the form" link
included (issue 13, item 10: the link was #9db4ff on #fff2d6, 1.8:1; WCAG AA asks 4.5:1)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from core.clock import FakeClock
from tests.factories import PASSWORD, World
from tests.live.conftest import Day, grant
from tests.live.test_browser_room import (  # noqa: F401 (fixtures: the page's origin)
    live_port,
    live_server,
    settings,
    staff_page,
    wait_connected,
)
from tests.live.test_timetrack_live import two_rounds
from web.daytrack import DAYS

pytestmark = pytest.mark.browser

CONTRAST = """(selector) => {
  const channels = (color) => color.match(/[\\d.]+/g).map(Number);
  const luminance = (color) => {
    const [r, g, b] = channels(color).slice(0, 3).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const color = getComputedStyle(node).backgroundColor;
      const alpha = channels(color)[3];
      if (alpha === undefined || alpha > 0) return color;
    }
    return "rgb(255, 255, 255)";
  };
  const node = document.querySelector(selector);
  const [light, dark] = [luminance(getComputedStyle(node).color), luminance(background(node))]
    .sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}"""


async def test_the_score_prompt_and_its_link_are_readable(
    browser: Any,
    live_server: Any,  # noqa: F811
    bots: Any,
    world: World,
    day: Day,
    clock: FakeClock,
) -> None:
    await two_rounds(live_server.app, world, day)
    # The applicant attends, so the interview happened and is to be scored.
    applicant = bots(grant(world, day, "applicant"), "a")
    await applicant.connect()
    page = await staff_page(
        browser, live_server, world.a.interviewer_email, f"/live/sessions/{day.session_id}"
    )
    await wait_connected(page)
    base = str(live_server.make_url("/")).rstrip("/")
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": world.a.coordinator_email, "password": PASSWORD}
        )
        csrf = (await login.json())["csrf_token"]
        started = await http.post(
            f"/api/v1/sessions/{day.session_id}/day/commands",
            json={"kind": "start", "command_id": "start-1"},
            headers={"X-CSRF-Token": csrf},
        )
        assert started.status == 200, await started.text()
    runner = live_server.app[DAYS].runners[day.session_id]
    await clock.advance(10 * 60)  # the first interview ends: score it
    await runner.settled()
    link = page.locator("#score-prompt a", has_text="Open the form")
    await link.wait_for()
    assert await page.evaluate(CONTRAST, "#score-prompt") >= 4.5
    assert await page.evaluate(CONTRAST, "#score-prompt a") >= 4.5
