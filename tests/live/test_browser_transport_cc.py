"""Chromium and the SFU speak transport-cc both ways: as a publisher, Chromium numbers its
packets and the SFU forwards them in C and sends feedback (no REMB estimator); as a
subscriber, it reports on every packet the SFU forwards it, and that feedback reaches
congestion control (what got through, the delay trend)."""

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


async def test_chromium_speaks_transport_cc_both_ways(
    browser: Any, live_server: Any, client: Any, world: World, day: Day
) -> None:
    path = f"/live/sessions/{day.session_id}"
    applicant_pid = f"{day.session_id}/applicant:{day.applicant}"
    interviewer_pid = staff_pid(day, day.interviewer1)
    hub = live_server.app[HUB]
    interviewer = await staff_page(browser, live_server, world.a.interviewer_email, path)
    applicant = await applicant_page(browser, live_server, client, day.applicant, path)
    for page in (applicant, interviewer):
        await wait_connected(page)
    await wait_sees(applicant, interviewer_pid)
    participants = hub.sfu._participants
    publisher, subscriber = participants[interviewer_pid], participants[applicant_pid]
    assert publisher.transport_cc and subscriber.transport_cc
    core = publisher.receiver_core
    assert core is not None
    await wait_for(lambda: core.forwarded > 100, 10)  # its media went through C
    downlink = subscriber.downlink
    await wait_for(lambda: (downlink.acked_bps or 0) > 50_000, 10)  # a loopback link
    control = subscriber.control
    assert control is not None and control.transport_malformed == 0
    assert hub.sfu.stats(applicant_pid).downlink_state == "full"
