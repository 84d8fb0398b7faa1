"""Transport-wide congestion control end to end on loopback with real aiortc peers.

Bots that publish through a pacer negotiate transport-cc as browsers do: the SFU then
forwards their steady streams in C (no REMB estimator in Python), sends them feedback on
what arrived, numbers what it forwards to each subscriber, and reads the subscriber's
feedback into its congestion control. A bot that does not offer transport-cc keeps REMB.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from media.control import DownlinkControl
from media.fastpath._datapath import LinkCore
from media.pacer import Pacer
from media.sfu import Sfu
from media.synthetic import EncodedClip, SyntheticParticipant
from media.transportcc import TRANSPORT_CC_URI
from tests.utils import wait_for


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    sfu = Sfu(keyframe_interval=0.25)
    yield sfu
    await sfu.close()


async def test_transport_cc_both_ways_and_forwarding_in_c(
    sfu: Sfu, video_clips: dict[str, EncodedClip], audio_clip: EncodedClip
) -> None:
    video_clip = video_clips["a"]
    pacer = Pacer()
    publisher = SyntheticParticipant(video_clip, audio_clip, slots=0, pacer=pacer)
    viewer = SyntheticParticipant(None, None, slots=1, pacer=pacer)
    plain = SyntheticParticipant(video_clip, audio_clip, slots=1)  # aiortc's own sender
    answers: dict[str, str] = {}

    async def exchange(name: str, offer: str) -> str:
        answers[name] = await sfu.add_participant(name, offer, "room")
        return answers[name]

    try:
        await publisher.connect(lambda offer: exchange("pub", offer))
        await viewer.connect(lambda offer: exchange("viewer", offer))
        await plain.connect(lambda offer: exchange("plain", offer))
        assert TRANSPORT_CC_URI in answers["pub"] and "transport-cc" in answers["viewer"]
        assert TRANSPORT_CC_URI not in answers["plain"]  # it did not offer it
        participants = sfu._participants
        pub, watcher, other = participants["pub"], participants["viewer"], participants["plain"]
        video_mid = next(m for m, c in viewer.counter.slots.items() if c.kind == "video")
        await wait_for(lambda: viewer.counter.slots[video_mid].frames > 30, 10)
        core = pub.receiver_core
        assert core is not None
        # Most of the publisher's packets never met Python on their way through.
        await wait_for(lambda: core.forwarded > 10 * max(1, core.returned), 10)
        # The viewer's downlink is numbered and its feedback reaches congestion control.
        control = watcher.control
        assert control is not None
        await wait_for(lambda: watcher.downlink.acked_bps is not None, 10)
        await wait_for(lambda: watcher.downlink.transport_seq > 100, 10)
        assert control.transport_malformed == 0 and watcher.downlink.trend_state == "normal"
        assert control.transport(time.monotonic()) is not None
        # Receiver reports, one compound per peer and round, reach both ends' streams.
        await wait_for(lambda: all(s.output.reports > 0 for s in publisher.streams), 10)
        viewer_slots = [slot for slot in watcher.slots() if slot.current is not None]
        await wait_for(lambda: all(slot.output.reports > 0 for slot in viewer_slots), 10)
        # The aiortc sender without transport-cc: its video takes the Python path (aiortc's
        # REMB estimator sees every packet); its audio, which no estimate needs, does not.
        other_core = other.receiver_core
        video_ssrc = other.sources["video"].media_ssrc
        assert other_core is not None and video_ssrc is not None
        assert other_core.route(video_ssrc) is None
        audio_ssrc = other.sources["audio"].media_ssrc
        assert audio_ssrc is not None and other_core.route(audio_ssrc) is not None
    finally:
        for bot in (publisher, viewer, plain):
            await bot.close()
        await pacer.close()


def test_malformed_transport_feedback_is_counted_not_raised() -> None:
    control = DownlinkControl(LinkCore())  # type: ignore[arg-type]
    for fci in (b"", b"\x00" * 7, b"\x00\x01\x00\x05\x00\x00\x00\x00"):  # 5 statuses, no chunk
        control.on_transport_feedback(fci)
    assert control.transport(0.0) is None  # nothing usable: no signal
    assert control.transport_malformed == 3
