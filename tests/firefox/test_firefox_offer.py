"""Firefox's offer, as firefox-esr 153 made it in the interview room (three slot pairs), is
served as it is. It differs from Chromium's in ways each of which aiortc and `check_offer`
accept; this keeps it so without needing Firefox:

- the DTLS fingerprint is at session level, not in each media section;
- under max-bundle every m-line after the first has port 0 and `a=bundle-only` (which would
  mean "rejected" without BUNDLE);
- RTCP candidates (component 2) and `a=rtcp:` are offered beside `a=rtcp-mux`;
- header extensions carry direction qualifiers (`a=extmap:2/recvonly`) and other ids
  (abs-send-time is 4, transport-cc 7);
- the payload types are Firefox's: Opus 109, VP8 120 (its RTX 124); VP9, AV1, ulpfec and red
  are offered too and left out of the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc.sdp import SessionDescription

from media.offer import check_offer
from media.sfu import Sfu

OFFER = (Path(__file__).resolve().parent / "firefox-esr-offer.sdp").read_text()
SLOTS = 3


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    sfu = Sfu()
    yield sfu
    await sfu.close()


def test_firefox_offer_has_the_protocols_layout() -> None:
    offer = check_offer(OFFER, SLOTS)
    assert [m.kind for m in offer.media] == ["audio", "video"] * (1 + SLOTS)
    assert [m.direction for m in offer.media] == ["sendonly"] * 2 + ["recvonly"] * 2 * SLOTS
    assert all("a=fingerprint" not in section for section in OFFER.split("\nm=")[1:])
    assert all(m.dtls is not None and m.dtls.fingerprints for m in offer.media)


async def test_sfu_answers_firefox_with_its_own_payload_types_and_extension_ids(sfu: Sfu) -> None:
    answer = SessionDescription.parse(
        await sfu.add_participant("firefox", OFFER, "room", slots=SLOTS)
    )
    assert [m.kind for m in answer.media] == ["audio", "video"] * (1 + SLOTS)
    assert [m.direction for m in answer.media] == ["recvonly"] * 2 + ["sendonly"] * 2 * SLOTS
    for media in answer.media:
        assert media.dtls is not None and media.dtls.role == "client"  # a=setup:active
        assert media.rtcp_mux
        names = {(c.name, c.payloadType) for c in media.rtp.codecs}
        if media.kind == "audio":
            assert names == {("opus", 109)}
            extensions = {e.uri: e.id for e in media.rtp.headerExtensions}
            assert extensions["urn:ietf:params:rtp-hdrext:ssrc-audio-level"] == 1
        else:
            assert names == {("VP8", 120), ("rtx", 124)}
            extensions = {e.uri: e.id for e in media.rtp.headerExtensions}
            assert extensions["http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"] == 4
        assert extensions["urn:ietf:params:rtp-hdrext:sdes:mid"] == 3
    assert sfu.layout("firefox") == {m.rtp.muxId: None for m in answer.media[2:]}
