"""Real aiortc peers over loopback against the in-process Sfu (real time: this is media)."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import aiortc.rtcrtpreceiver
import pytest
from aiortc import RTCRtpSender

from media import fastpath
from media.pacer import Pacer
from media.sfu import Sfu
from media.synthetic import EncodedClip, SyntheticParticipant
from tests.utils import Client, connect_client, new_client_pc, track_layouts, wait_for


@pytest.fixture
async def sfu() -> Sfu:
    sfu = Sfu()
    yield sfu  # type: ignore[misc]
    await sfu.close()


async def connect_all(
    sfu: Sfu,
    rooms: dict[str, str],
    video_clips: dict[str, EncodedClip],
    audio_clip: EncodedClip,
    labels: dict[tuple[int, int], str],
    capture: bool = False,
    pacer: Pacer | None = None,
    paced: frozenset[str] = frozenset(),
) -> dict[str, Client]:
    clients: dict[str, Client] = {}
    track_layouts(sfu, clients)
    for name, room in rooms.items():
        clients[name] = await connect_client(
            sfu,
            name,
            room,
            video_clips[name],
            audio_clip,
            labels=labels,
            capture=capture,
            pacer=pacer if name in paced else None,
        )
    await wait_for(lambda: all(c.pc.connectionState == "connected" for c in clients.values()), 5)
    return clients


async def close_all(clients: dict[str, Client]) -> None:
    for client in clients.values():
        await client.close()


def sources_seen(client: Client) -> set[str]:
    return {label for label in client.counter.labels_seen().values() if label}


async def test_three_participants_receive_each_other_at_frame_rate(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip, labels: dict
) -> None:
    # c publishes through the pacer (the load-test path), a and b through aiortc's sender.
    pacer = Pacer()
    clients = await connect_all(
        sfu,
        {"a": "r1", "b": "r1", "c": "r1"},
        video_clips,
        audio_clip,
        labels,
        pacer=pacer,
        paced=frozenset({"c"}),
    )
    try:
        await wait_for(lambda: all(len(sources_seen(c)) == 2 for c in clients.values()), 3)
        start = time.monotonic()
        await asyncio.sleep(2.5)
        end = time.monotonic()
        for name, client in clients.items():
            others = sorted(set(clients) - {name})
            assert sorted(sources_seen(client)) == others
            rates = client.counter.fps(window=end - start)
            assert all(rates[other] >= 0.7 * 30 for other in others), rates
            for mid, count in client.counter.slots.items():
                frames = sum(1 for t in count.frame_times if start <= t < end)
                if count.kind == "video" and count.label:
                    assert frames >= 0.7 * 30 * (end - start), (name, mid, frames)
                if count.kind == "audio" and count.frames:
                    assert frames >= 0.7 * 50 * (end - start), (name, mid, frames)
            stats = sfu.stats(name)
            assert stats.connection_state == "connected"
            assert stats.frames_out > 0 and stats.frames_in > 0 and stats.packets_out > 0
            # Our folded sender reports reach the client, its receiver reports come back.
            assert stats.round_trip_time_s is not None and stats.round_trip_time_s < 0.5
        assert set(sfu.all_stats()) == {"a", "b", "c"}
    finally:
        await close_all(clients)
        await pacer.close()


async def test_move_to_another_room_without_reconnecting(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip, labels: dict
) -> None:
    clients = await connect_all(
        sfu, {"a": "r1", "b": "r1", "c": "r2", "d": "r2"}, video_clips, audio_clip, labels
    )
    try:
        a = clients["a"]
        await wait_for(lambda: sources_seen(a) == {"b"}, 3)
        server_pc = sfu.peer_connection("a")
        client_pc, local_sdp = a.pc, a.pc.localDescription.sdp

        moved_at = time.monotonic()
        sfu.route("a", "r2")
        assert a.layouts[-1] and set(a.layouts[-1].values()) == {"c", "d", None}
        await wait_for(lambda: {"c", "d"} <= sources_seen(a), 1.0)
        firsts = [
            count.first_frame_at[label]
            for count in a.counter.slots.values()
            for label in ("c", "d")
            if label in count.first_frame_at
        ]
        assert max(firsts) - moved_at < 1.0
        # Same connection on both ends, nothing renegotiated.
        assert sfu.peer_connection("a") is server_pc and a.pc is client_pc
        assert a.pc.signalingState == "stable" and a.pc.localDescription.sdp == local_sdp
        assert a.pc.connectionState == "connected"
        # Their uplink moved too: c and d now see a, b sees nobody.
        await wait_for(lambda: "a" in sources_seen(clients["c"]), 1.0)
        assert set(clients["b"].layouts[-1].values()) == {None}
        b_frames = clients["b"].counter.slots
        await asyncio.sleep(0.3)
        before = sum(c.frames for c in b_frames.values())
        await asyncio.sleep(0.5)
        assert sum(c.frames for c in b_frames.values()) == before
    finally:
        await close_all(clients)


async def test_removed_participant_rejoins_on_a_new_connection(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip, labels: dict
) -> None:
    clients = await connect_all(sfu, {"a": "r1", "b": "r1"}, video_clips, audio_clip, labels)
    try:
        await wait_for(lambda: sources_seen(clients["b"]) == {"a"}, 3)
        old_pc = sfu.peer_connection("a")
        await sfu.remove("a")
        await clients["a"].close()
        assert "a" not in sfu.participant_ids
        assert set(clients["b"].layouts[-1].values()) == {None}

        clients["a"] = await connect_client(
            sfu, "a", "r1", video_clips["a"], audio_clip, labels=labels
        )
        assert sfu.peer_connection("a") is not old_pc
        await wait_for(lambda: sources_seen(clients["a"]) == {"b"}, 3)
        mid = clients["b"].mid_showing("a")
        assert mid is not None
        seen = clients["b"].counter.slots[mid].frames
        await wait_for(lambda: clients["b"].counter.slots[mid].frames > seen + 10, 3)
    finally:
        await close_all(clients)


async def test_forwarding_never_decodes_or_encodes(
    sfu: Sfu,
    video_clips: dict[str, EncodedClip],
    audio_clip: EncodedClip,
    labels: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoders: list[object] = []
    real_get_decoder = aiortc.rtcrtpreceiver.get_decoder

    def counting_get_decoder(codec: object) -> object:
        decoders.append(codec)
        return real_get_decoder(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", counting_get_decoder)
    clients = await connect_all(
        sfu, {"a": "r1", "b": "r1"}, video_clips, audio_clip, labels, capture=True
    )
    try:
        b = clients["b"]
        await wait_for(lambda: sum(len(c.captured) for c in b.counter.slots.values()) >= 20, 3)
        # Every frame b received is byte for byte a frame a published.
        published = set(video_clips["a"].frames)
        received = [f for c in b.counter.slots.values() for f in c.captured]
        assert received and all(frame in published for frame in received)
        # Nobody (server or clients, whose counters skip decoding too) built a decoder,
        # and no server-side sender built an encoder or packetizer.
        assert decoders == []
        assert not [t.name for t in threading.enumerate() if t.name.endswith("-decoder")]
        for name in clients:
            for sender in sfu.peer_connection(name).getSenders():
                assert not fastpath.sender_has_encoder(sender)
    finally:
        await close_all(clients)


async def test_bad_offers_are_refused_cleanly(sfu: Sfu) -> None:
    with pytest.raises(ValueError):
        await sfu.add_participant("x", "not an sdp", "r1")
    pc = new_client_pc()
    transceiver = pc.addTransceiver("video", direction="sendonly")
    h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "H264"]
    transceiver.setCodecPreferences(h264)
    await pc.setLocalDescription(await pc.createOffer())
    with pytest.raises(ValueError, match="VP8"):
        await sfu.add_participant("x", pc.localDescription.sdp, "r1")
    await pc.close()
    assert sfu.participant_ids == []


async def test_remove_while_negotiating_aborts_the_add(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip
) -> None:
    bot = SyntheticParticipant(video_clips["a"], audio_clip, slots=1)
    offer = await bot.create_offer()
    adding = asyncio.ensure_future(sfu.add_participant("a", offer, "r1"))
    await asyncio.sleep(0)
    await sfu.remove("a")
    with pytest.raises(ConnectionAbortedError):
        await adding
    assert sfu.participant_ids == []
    await bot.close()


async def test_connection_state_mute_and_stats(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip, labels: dict
) -> None:
    states: list[tuple[str, str]] = []
    sfu.on_connection_state = lambda pid, state: states.append((pid, state))
    clients = await connect_all(sfu, {"a": "r1", "b": "r1"}, video_clips, audio_clip, labels)
    try:
        await wait_for(lambda: {("a", "connected"), ("b", "connected")} <= set(states), 2)
        assert states.index(("a", "connecting")) < states.index(("a", "connected"))
        mid = clients["b"].mid_showing("a")
        assert mid is not None
        await wait_for(lambda: clients["b"].counter.slots[mid].frames > 5, 3)
        sfu.set_muted("a", "video", True)
        await asyncio.sleep(0.2)
        frozen = clients["b"].counter.slots[mid].frames
        await asyncio.sleep(0.4)
        assert clients["b"].counter.slots[mid].frames == frozen
        sfu.set_muted("a", "video", False)
        await wait_for(lambda: clients["b"].counter.slots[mid].frames > frozen + 5, 2)
        with pytest.raises(ValueError):
            sfu.set_muted("a", "screen", True)
        with pytest.raises(KeyError):
            sfu.stats("nobody")
        await asyncio.sleep(1.1)
        stats = sfu.stats("b")
        assert stats.bitrate_in_bps > 0 and stats.bitrate_out_bps > 0
        assert stats.packet_loss_in == 0.0 and stats.frames_out > 0
    finally:
        await close_all(clients)


async def test_answer_pairs_each_slot_into_its_own_stream(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip
) -> None:
    bot = SyntheticParticipant(video_clips["a"], audio_clip, slots=2)
    answer = await sfu.add_participant("a", await bot.create_offer(), "r1")
    msids = [line.split()[0] for line in answer.splitlines() if line.startswith("a=msid:")]
    # Own audio/video (received by the SFU), then pair 0 (audio, video), pair 1 (audio, video).
    assert msids[2:] == ["a=msid:slot0", "a=msid:slot0", "a=msid:slot1", "a=msid:slot1"]
    await bot.close()


async def test_viewer_without_uplink_and_publisher_without_slots(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip, labels: dict
) -> None:
    publisher = SyntheticParticipant(video_clips["a"], audio_clip, slots=0)
    viewer = SyntheticParticipant(None, None, slots=2, labels=labels)  # e.g. an observer
    await publisher.connect(lambda offer: sfu.add_participant("pub", offer, "r1"))
    await viewer.connect(lambda offer: sfu.add_participant("view", offer, "r1"))
    try:
        assert sfu.layout("pub") == {}
        assert sorted(v for v in sfu.layout("view").values() if v) == ["pub", "pub"]
        await wait_for(lambda: "a" in viewer.counter.labels_seen().values(), 3)
        sfu.route("view", "r1")  # same room: nothing changes, nothing breaks
        sfu.route("pub", "elsewhere")
        assert set(sfu.layout("view").values()) == {None}
        with pytest.raises(KeyError):
            sfu.route("nobody", "r1")
    finally:
        await publisher.close()
        await viewer.close()


async def test_the_answer_asks_publishers_for_resilient_opus(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip
) -> None:
    """In-band FEC and DTX for every publisher's audio: it survives loss better than video."""
    bot = SyntheticParticipant(video_clips["a"], audio_clip, slots=1)
    answer = await sfu.add_participant("a", await bot.create_offer(), "r1")
    opus = re.search(r"^a=rtpmap:(\d+) opus/48000", answer, re.MULTILINE | re.IGNORECASE)
    assert opus is not None
    fmtp = re.search(rf"^a=fmtp:{opus.group(1)} (.*)$", answer, re.MULTILINE)
    assert fmtp is not None
    assert {"useinbandfec=1", "usedtx=1"} <= set(fmtp.group(1).strip().split(";"))
    await sfu.remove("a")
    await bot.close()
