"""The /live namespace with real aiortc bots over loopback (real time: this is media)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from signaling.bot import BotError
from signaling.grants import JoinGrant
from tests.factories import World
from tests.live.conftest import Day, grant
from tests.utils import wait_for
from web.live import HUB, room_key


async def test_three_in_a_room_each_receive_the_other_two(
    bots: Any, world: World, day: Day
) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    observer_grant = JoinGrant(
        "staff",
        world.a.staff_id,
        "Dana",
        "interviewer",
        world.a.program_id,
        day.session_id,
        room_key(day.session_id, day.room1),
        "Room 1",
    )
    third = bots(observer_grant, "c")
    for bot in (applicant, interviewer, third):
        await bot.connect()
    everyone = {applicant: "a", interviewer: "b", third: "c"}
    await wait_for(
        lambda: all(
            {lbl for lbl in bot.media.counter.labels_seen().values() if lbl} == set("abc") - {me}
            for bot, me in everyone.items()
        ),
        5,
    )
    assert applicant.room["name"] == "Room 1"
    assert {p["name"] for p in third.room["peers"]} >= {"Ann Applicant", "interviewer1"}


async def test_moved_to_another_room_on_the_same_connection(
    bots: Any, world: World, day: Day, hub: Any
) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    first = bots(grant(world, day, "interviewer1"), "b")
    second = bots(grant(world, day, "interviewer2"), "c")
    for bot in (applicant, first, second):
        await bot.connect()
    await wait_for(lambda: applicant.frames_from(first.participant_id, 0) > 5, 5)
    pc = applicant.media.pc
    joins = sum(1 for name, _ in applicant.events if name == "join")

    moved_at = time.monotonic()
    await hub.move(applicant.participant_id, room_key(day.session_id, day.room2), "Room 2")
    took = await wait_for(
        lambda: (
            applicant.media.counter.slots[
                applicant.mid_showing(second.participant_id) or ""
            ].first_frame_at.get("c", 0)
            > moved_at
            if applicant.mid_showing(second.participant_id)
            else False
        ),
        1.0,
    )
    assert took < 1.0
    assert applicant.media.pc is pc and pc.connectionState == "connected"
    assert sum(1 for name, _ in applicant.events if name == "join") == joins
    assert applicant.room["name"] == "Room 2"
    # The new room's interviewer now receives the applicant; the old one no longer does.
    await wait_for(lambda: second.mid_showing(applicant.participant_id) is not None, 2)
    assert first.mid_showing(applicant.participant_id) is None


async def test_reconnect_lands_in_the_same_room(
    bots: Any, world: World, day: Day, hub: Any
) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    second = bots(grant(world, day, "interviewer2"), "c")
    await applicant.connect()
    await second.connect()
    await hub.move(applicant.participant_id, room_key(day.session_id, day.room2), "Room 2")
    await applicant.close()
    await wait_for(lambda: not hub.presence.get(applicant.participant_id).connected, 5)

    again = bots(grant(world, day, "applicant"), "a")  # a fresh token: still says Room 1
    await again.connect()
    assert again.room["name"] == "Room 2"
    await wait_for(lambda: again.frames_from(second.participant_id, 0) > 3, 5)
    assert again.media.pc is not applicant.media.pc


async def test_bad_tokens_are_refused(bots: Any, world: World, day: Day) -> None:
    with pytest.raises(BotError) as info:
        await bots(grant(world, day, "applicant"), "a", token="not-a-token").connect()
    assert info.value.code == "token_invalid"
    # A valid token for session A, presented to session B.
    with pytest.raises(BotError) as info:
        await bots(grant(world, day, "applicant"), "a", scope=world.b.session_id).connect()
    assert info.value.code == "wrong_session"
    magic = bots(grant(world, day, "applicant"), "a")
    magic.token = magic.token.replace(".", "x", 1)
    with pytest.raises(BotError) as info:
        await magic.connect()
    assert info.value.code == "token_invalid"


async def test_malformed_events_get_error_acks(bots: Any, world: World, day: Day) -> None:
    bot = bots(grant(world, day, "applicant"), "a")
    await bot.sio.connect(
        bot.url,
        auth={"token": bot.token},
        namespaces=["/live"],
        transports=["websocket"],
        wait_timeout=5,
    )
    for event, data, code in [
        ("media", {"audio": True, "video": True}, "not_joined"),
        ("join", {"offer": 42}, "invalid"),
        ("join", "nonsense", "invalid"),
        ("join", {"offer": "v=0 but not really an offer"}, "bad_offer"),
        ("heartbeat", {"t": "soon"}, "invalid"),
        ("hand", {"raised": True, "extra": 1}, "invalid"),
    ]:
        ack = await bot.sio.call(event, data, namespace="/live", timeout=10)
        assert ack["ok"] is False, (event, ack)
        assert ack["error"]["code"] == code, (event, ack)
        assert ack["error"]["message"]


async def test_media_stats_reach_the_metrics(
    bots: Any, world: World, day: Day, live_server: Any
) -> None:
    from web.keys import METRICS

    applicant = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    await applicant.connect()
    await interviewer.connect()
    await wait_for(lambda: applicant.frames_from(interviewer.participant_id, 0) > 10, 5)
    metrics = live_server.app[METRICS]
    metrics.observe_media(live_server.app[HUB].sfu.all_stats())
    text = metrics.render().decode()
    assert f'interviewday_media_frames_forwarded{{participant="{applicant.participant_id}"' in text
    assert "interviewday_media_participants 2.0" in text
    await applicant.close()
    await wait_for(
        lambda: applicant.participant_id not in live_server.app[HUB].sfu.participant_ids, 5
    )
    metrics.observe_media(live_server.app[HUB].sfu.all_stats())
    assert applicant.participant_id not in metrics.render().decode()


async def test_an_observer_watches_without_taking_a_slot(bots: Any, world: World, day: Day) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    observer = bots(
        JoinGrant(
            "staff",
            world.a.staff_id,
            "Dana",
            "observer",
            world.a.program_id,
            day.session_id,
            room_key(day.session_id, day.room1),
            "Room 1",
        ),
        "c",
    )
    for bot in (applicant, interviewer, observer):
        await bot.connect()
    # The observer receives both; neither of them shows the observer.
    await wait_for(
        lambda: (
            observer.frames_from(applicant.participant_id, 0) > 3
            and observer.frames_from(interviewer.participant_id, 0) > 3
        ),
        5,
    )
    assert observer.participant_id not in applicant.layouts[-1].values()
    assert observer.participant_id not in interviewer.layouts[-1].values()
    peers = {p["name"]: p for p in applicant.room["peers"]}
    assert interviewer.room["name"] == "Room 1"
    assert all(not p["observer"] or p["name"] == "Dana" for p in peers.values())
