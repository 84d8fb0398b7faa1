"""What the room and the console hear when people leave, drop or join twice; the offer layout
refused at `join` (issue 13, item 12). Real server, socket.io and aiortc bots on loopback."""

from __future__ import annotations

from typing import Any

from media.synthetic import EncodedClip, SyntheticParticipant
from signaling.bot import BotError, LiveBot
from signaling.grants import JoinGrant, Role
from tests.factories import World
from tests.live.conftest import Day, grant
from tests.utils import new_client_pc, wait_for
from web.live import room_key


def staff_grant(world: World, day: Day, role: Role, room: str, name: str) -> JoinGrant:
    return JoinGrant(
        "staff",
        world.a.staff_id,
        name,
        role,
        world.a.program_id,
        day.session_id,
        room_key(day.session_id, room),
        name,
    )


def received(bot: LiveBot, event: str) -> list[dict[str, Any]]:
    return [data for name, data in bot.events if name == event]


def heard(bot: LiveBot, event: str, participant_id: str, **fields: Any) -> bool:
    return any(
        data.get("participant_id") == participant_id
        and all(data.get(k) == v for k, v in fields.items())
        for data in received(bot, event)
    )


async def test_a_leave_and_a_drop_reach_the_room_and_the_console(
    bots: Any, world: World, day: Day
) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    coordinator = bots(staff_grant(world, day, "coordinator", "coordinators", "Dana"), "c")
    for bot in (coordinator, applicant, interviewer):
        await bot.connect()
    await wait_for(lambda: heard(coordinator, "presence", interviewer.participant_id), 5)
    # Neither the room nor the console hear of anything that did not happen.
    assert not received(applicant, "peer_left") and not received(applicant, "presence")

    await interviewer.call("leave")
    await wait_for(lambda: heard(applicant, "peer_left", interviewer.participant_id), 5)
    await wait_for(
        lambda: heard(
            coordinator,
            "presence",
            interviewer.participant_id,
            connected=False,
            room_key=room_key(day.session_id, day.room1),
        ),
        5,
    )
    # Left means gone: no `peer` saying otherwise afterwards, nothing more about the room.
    assert not heard(applicant, "peer", interviewer.participant_id, connected=False)
    peers_before = len(received(interviewer, "peer"))
    await applicant.call("hand", {"raised": True})
    await wait_for(lambda: heard(coordinator, "presence", applicant.participant_id, hand=True), 5)
    assert len(received(interviewer, "peer")) == peers_before  # no longer in the room

    watcher = bots(grant(world, day, "interviewer1"), "b")  # back in room 1, to see the drop
    await watcher.connect()
    await applicant.sio.disconnect()  # the socket drops (the person may come back)
    await wait_for(lambda: heard(watcher, "peer", applicant.participant_id, connected=False), 5)
    await wait_for(
        lambda: heard(coordinator, "presence", applicant.participant_id, connected=False), 5
    )
    assert not heard(watcher, "peer_left", applicant.participant_id)


async def test_room_peers_include_yourself(bots: Any, world: World, day: Day) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    await applicant.connect()
    await interviewer.connect()
    ids = {p["participant_id"] for p in interviewer.room["peers"]}
    assert ids == {applicant.participant_id, interviewer.participant_id}


async def test_a_second_join_on_one_socket_replaces_the_media(
    bots: Any,
    world: World,
    day: Day,
    hub: Any,
    video_clips: dict[str, EncodedClip],
    audio_clip: EncodedClip,
) -> None:
    applicant = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    await applicant.connect()
    await interviewer.connect()
    first_pc = hub.sfu.peer_connection(applicant.participant_id)
    await applicant.call("hand", {"raised": True})
    await applicant.call("media", {"audio": False, "video": True})

    again = SyntheticParticipant(video_clips["a"], audio_clip, slots=1)
    try:
        ack = await applicant.call("join", {"offer": await again.create_offer(), "slots": 1})
        await again.accept_answer(ack["answer"])
        assert ack["participant_id"] == applicant.participant_id
        assert ack["room"]["name"] == "Room 1"
        assert hub.sfu.peer_connection(applicant.participant_id) is not first_pc
        await wait_for(lambda: first_pc.connectionState == "closed", 5)
        mine = next(p for p in ack["room"]["peers"] if p["participant_id"] == ack["participant_id"])
        # The person's state is kept, at the server too: muted stays muted on the new media.
        assert mine["hand"] is True and mine["audio"] is False
        sources = hub.sfu._get(applicant.participant_id).sources
        assert sources["audio"].muted and not sources["video"].muted
        # The new connection carries media both ways; the room never heard of a leave.
        await wait_for(lambda: interviewer.mid_showing(applicant.participant_id) is not None, 5)
        await wait_for(lambda: any(again.counter.labels_seen().values()), 5)
        assert not heard(interviewer, "peer_left", applicant.participant_id)
    finally:
        await again.close()


async def test_a_join_from_another_socket_replaces_the_first(
    bots: Any, world: World, day: Day
) -> None:
    first = bots(grant(world, day, "applicant"), "a")
    interviewer = bots(grant(world, day, "interviewer1"), "b")
    await first.connect()
    await interviewer.connect()
    second = bots(grant(world, day, "applicant"), "a")  # another tab of the same person
    await second.connect()
    await wait_for(lambda: bool(received(first, "replaced")), 5)
    assert received(first, "replaced")[0]["message"]
    try:
        await first.call("hand", {"raised": True})
    except BotError as exc:
        assert exc.code == "not_joined"
    else:
        raise AssertionError("the replaced socket still acts for the person")
    # The first socket no longer hears the room.
    count = len(received(first, "peer"))
    await second.call("hand", {"raised": True})
    await wait_for(lambda: heard(interviewer, "peer", second.participant_id, hand=True), 5)
    assert len(received(first, "peer")) == count


async def offer_of(lines: list[tuple[str, str]]) -> str:
    pc = new_client_pc()
    for kind, direction in lines:
        pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_offers_out_of_the_protocol_layout_are_refused(
    bots: Any, world: World, day: Day, hub: Any
) -> None:
    bot = bots(grant(world, day, "applicant"), "a")
    await bot.sio.connect(
        bot.url, auth={"token": bot.token}, namespaces=["/live"], transports=["websocket"]
    )
    own = [("audio", "sendonly"), ("video", "sendonly")]
    pair = [("audio", "recvonly"), ("video", "recvonly")]
    cases = {
        "fewer slot m-lines than slots": (own + pair, 2, "slots=2 needs 6"),
        "more slot m-lines than slots": (own + pair * 3, 1, "slots=1 needs 4"),
        "the default is 3 slots": (own + pair, None, "slots=3 needs 8"),
        "video before audio": (own[::-1] + pair, 1, "media section 0 is video"),
        "no own media (a viewer)": (pair * 2, 1, "your own audio) is recvonly"),
        "a slot that sends": ([*own, ("audio", "sendrecv"), ("video", "recvonly")], 1, "slot 0"),
    }
    for name, (lines, slots, message) in cases.items():
        payload: dict[str, Any] = {"offer": await offer_of(lines)}
        if slots is not None:
            payload["slots"] = slots
        ack = await bot.sio.call("join", payload, namespace="/live", timeout=10)
        assert ack["ok"] is False, name
        assert ack["error"]["code"] == "bad_offer", (name, ack)
        assert message in ack["error"]["message"], (name, ack)
        assert hub.sfu.participant_ids == [], name
    too_many = {"offer": await offer_of(own + pair), "slots": 17}
    ack = await bot.sio.call("join", too_many, namespace="/live", timeout=10)
    assert ack["error"]["code"] == "invalid"
    ack = await bot.sio.call(
        "join", {"offer": await offer_of(own + pair), "slots": 1}, namespace="/live", timeout=10
    )
    assert ack["ok"] is True
