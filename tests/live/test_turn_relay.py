"""A client that may use nothing but TURN still joins a live room: its media goes through a real
coturn, with the ephemeral credentials the join API hands out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from core.settings import Settings
from media.synthetic import EncodedClip
from signaling.bot import LiveBot
from signaling.grants import issue_join_token
from tests.conftest import make_settings
from tests.factories import World
from tests.live.conftest import Day, grant
from tests.turn import TurnServer, turn_server
from tests.utils import wait_for
from tests.web.helpers import login
from web.keys import TOKENS

FRAMES = 15


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[TurnServer]:
    with turn_server(tmp_path / "coturn") as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    # coturn checks the credentials' expiry against its own (real) clock.
    return FakeClock(time.time())


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path, turn: TurnServer) -> Settings:
    return make_settings(sqlite_url, tmp_path, ice_servers=(turn.ice_server(),))


def ice_transport(bot: LiveBot) -> Any:
    # One bundled transport carries everything; the first transceiver's is the one.
    return bot.media.pc.getTransceivers()[0].sender.transport.transport


def nominated_pairs(bot: LiveBot) -> list[Any]:
    # aioice keeps the pairs ICE settled on privately; nothing public names them.
    return list(ice_transport(bot)._connection._nominated.values())


async def test_a_relay_only_bot_exchanges_media_through_coturn(
    live_server: Any,
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    day: Day,
    turn: TurnServer,
    video_clips: dict[str, EncodedClip],
    audio_clip: EncodedClip,
    labels: dict[tuple[int, int], str],
) -> None:
    csrf = await login(client, world.a.interviewer_email)
    response = await client.post(
        f"/api/v1/sessions/{day.session_id}/join", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200, await response.text()
    joined = await response.json()
    [ice_server] = joined["ice_servers"]
    assert ice_server["urls"] == [turn.url] and ice_server["credential"]

    url = str(live_server.make_url("/")).rstrip("/")
    relayed = LiveBot(
        url=url,
        token=joined["token"],
        video=video_clips["b"],
        audio=audio_clip,
        labels=labels,
        ice_servers=joined["ice_servers"],
        ice_transport_policy="relay",
    )
    ordinary = LiveBot(
        url=url,
        token=issue_join_token(live_server.app[TOKENS], grant(world, day, "applicant")),
        video=video_clips["a"],
        audio=audio_clip,
        labels=labels,
    )
    try:
        await relayed.connect()
        await ordinary.connect()
        await wait_for(
            lambda: (
                relayed.frames_from(ordinary.participant_id, 0) >= FRAMES
                and ordinary.frames_from(relayed.participant_id, 0) >= FRAMES
            ),
            10,
        )
        # Each decodes the other's own pictures (sources are told apart by keyframe size).
        assert "a" in relayed.media.counter.labels_seen().values()
        assert "b" in ordinary.media.counter.labels_seen().values()
        assert relayed.media.pc.connectionState == "connected"

        # Nothing but coturn's relayed addresses: no fallback to host candidates.
        local = ice_transport(relayed).iceGatherer.getLocalCandidates()
        assert local and {c.type for c in local} == {"relay"}
        assert all(c.port in turn.relay_ports for c in local)
        [pair] = nominated_pairs(relayed)
        assert pair.local_candidate.type == "relay"
        assert pair.local_candidate.port in turn.relay_ports
        sfu_host, sfu_port = pair.remote_addr
        # The ordinary bot did not go through coturn.
        assert [p.local_candidate.type for p in nominated_pairs(ordinary)] == ["host"]
    finally:
        await relayed.close()
        await ordinary.close()

    # coturn's side: an allocation for the credentials the join API made, and a permission
    # (a channel) towards the very SFU address the pair was nominated with.
    log = turn.log()
    assert f"username=<{ice_server['username']}>" in log
    assert "ALLOCATE processed, success" in log
    assert f"peer {sfu_host}:{sfu_port} lifetime updated" in log
