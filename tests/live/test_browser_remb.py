"""Chromium as a subscriber runs its own delay-based receive estimate on what the SFU forwards
(the video carries abs-send-time) and sends it back as REMB, which congestion control reads."""

from __future__ import annotations

from typing import Any

import pytest

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
from web.live import HUB

pytestmark = pytest.mark.browser
__all__ = ["day", "live_port", "live_server", "settings"]  # the fixtures this module reuses


async def test_a_chromium_subscriber_reports_its_receive_estimate(
    browser: Any, live_server: Any, client: Any, world: World, day: Day
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    hub = live_server.app[HUB]
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    for page in (applicant, interviewer):
        await wait_connected(page)
    await wait_sees(applicant, staff_pid(day, day.interviewer1))
    control = hub.sfu._participants[applicant_pid].control
    await wait_for(lambda: control.remb_bps is not None, 10)
    assert control.remb_bps > 50_000  # a loopback link: far more than a trickle
    assert hub.sfu.stats(applicant_pid).downlink_state == "full"
