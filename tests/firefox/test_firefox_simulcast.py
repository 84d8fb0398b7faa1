"""Firefox publishes one video stream, Chromium three layers (web/client/live/simulcast.js says
why Firefox does not use simulcast with this server), and each sees the other.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import World
from tests.firefox.firefox import Firefox
from tests.firefox.test_firefox_rooms import firefox_applicant, sees_and_hears
from tests.live.conftest import Day, day
from tests.live.test_browser_room import (
    live_port,
    live_server,
    settings,
    staff_page,
    staff_pid,
    wait_connected,
)
from web.live import HUB

pytestmark = pytest.mark.browser
__all__ = ["day", "live_port", "live_server", "settings"]  # the fixtures this module reuses

SENDER_ENCODINGS = """() => window.interviewday.connection.sender("video").getParameters()
  .encodings.map((e) => e.rid || null)"""


async def test_firefox_sends_one_stream_and_receives_chromiums_layers(
    browser: Any, firefox: Firefox, live_server: Any, client: Any, world: World, day: Day
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer_pid = staff_pid(day, day.interviewer1)
    hub = live_server.app[HUB]
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await firefox_applicant(firefox, live_server, client, day.applicant, path)
    await wait_connected(interviewer)

    offer = await applicant.evaluate("() => window.interviewday.pc.localDescription.sdp")
    assert "a=simulcast" not in offer
    assert await applicant.evaluate(SENDER_ENCODINGS) == [None]
    assert hub.sfu.stats(applicant_pid).layers_in == 1
    assert hub.sfu.stats(interviewer_pid).layers_in == 3
    await sees_and_hears(interviewer, applicant_pid)
    # Firefox decodes the layer the server picked from Chromium's three.
    await sees_and_hears(applicant, interviewer_pid)
    layers = hub.sfu.stats(applicant_pid).video_layers
    assert layers is not None and sorted(layers.values())[-1] >= 0, layers
