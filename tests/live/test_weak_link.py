"""A weak link degrades only its own subscriber (issue 12): a third participant receives
through a 150 kbit/s bottleneck (its own network namespace, `tbf`). The others in the room keep
receiving each other at full frame rate while it struggles; congestion control gives it its
audio (two voices fit, their video does not: audio only) and tells both ends why."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from core.settings import Settings
from signaling.grants import issue_join_token
from tests.factories import World
from tests.live.conftest import Day, grant
from tests.netns import WeakLink, weak_link
from tests.services import free_port
from tests.utils import wait_for
from web.keys import TOKENS
from web.live import HUB, room_key

CLI = Path(sys.executable).with_name("interviewday")
WINDOW_S = 5.0


@pytest.fixture
def link() -> Iterator[WeakLink]:
    with weak_link(rate_kbit=150) as made:
        yield made


@pytest.fixture
async def live_server(
    aiohttp_server: Any, settings: Settings, clock: FakeClock, link: WeakLink
) -> Any:
    """The server where the namespace can reach it: on the host's end of the pair."""
    from web.app import create_app

    return await aiohttp_server(
        create_app(settings, clock=clock), host=link.host_ip, port=free_port()
    )


def fps_from(bot: Any, source_id: str, since: float) -> float:
    return bot.frames_from(source_id, since) / (time.monotonic() - since)


async def test_a_weak_subscriber_does_not_slow_the_others(
    live_server: Any, link: WeakLink, world: World, day: Day, bots: Any
) -> None:
    interviewer = bots(grant(world, day, "interviewer1"), "a")
    applicant = bots(grant(world, day, "applicant"), "b")
    await interviewer.connect()
    await applicant.connect()
    await wait_for(lambda: applicant.mid_showing(interviewer.participant_id) is not None, 10)
    started = time.monotonic()
    await asyncio.sleep(WINDOW_S)  # a measurement window, not a wait for something
    before = fps_from(applicant, interviewer.participant_id, started)

    # A third member of the room, behind the bottleneck, publishing and receiving.
    weak = replace(grant(world, day, "interviewer2"), room_key=room_key(day.session_id, day.room1))
    token = issue_join_token(live_server.app[TOKENS], weak)
    url = f"http://{link.host_ip}:{live_server.port}"
    process = await asyncio.create_subprocess_exec(
        *link.command(str(CLI), "bot", "--url", url, "--token", token, "--seconds", "8"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    hub = live_server.app[HUB]
    await wait_for(
        lambda: (m := hub.presence.get(weak.participant_id)) is not None and m.connected, 20
    )
    during_started = time.monotonic()
    weak_states: set[str] = set()
    while time.monotonic() < during_started + WINDOW_S:  # a window, sampling the state
        await asyncio.sleep(0.25)
        member = hub.presence.get(weak.participant_id)
        if member is not None:
            weak_states.add(member.downlink)
    during = fps_from(applicant, interviewer.participant_id, during_started)
    back = fps_from(interviewer, applicant.participant_id, during_started)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    weak_result = json.loads(out.decode().strip().splitlines()[-1])

    # The others keep their frame rate; the weak subscriber's video gave way, not its audio.
    assert before >= 20, before
    assert during >= 0.85 * before and back >= 0.85 * before, (before, during, back)
    weak_fps = statistics.mean(weak_result["video_fps"] or [0.0])
    assert weak_fps < 0.6 * before, (weak_fps, before, weak_result)
    voices = weak_result["audio_fps_second_half"]
    assert len(voices) == 2 and min(voices) >= 0.9 * 50, weak_result  # 50 Opus frames a second
    # Both ends are told: the weak participant, and the others through `peer`.
    assert ("audio_only" in weak_states) or ("reduced" in weak_states), weak_states
    told = [
        data.get("downlink")
        for name, data in interviewer.events
        if name == "peer" and data.get("participant_id") == weak.participant_id
    ]
    assert "audio_only" in told or "reduced" in told, told
