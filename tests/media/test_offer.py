"""Offers checked before the SFU creates anything (pure, on real aiortc offers)."""

from __future__ import annotations

import re

import pytest

from media.offer import MAX_MEDIA_SECTIONS, check_offer
from tests.utils import new_client_pc


async def real_offer(slots: int = 1) -> str:
    pc = new_client_pc()
    for kind in ("audio", "video"):
        pc.addTransceiver(kind, direction="sendonly")
    for _ in range(slots):
        for kind in ("audio", "video"):
            pc.addTransceiver(kind, direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def drop(sdp: str, prefix: str) -> str:
    return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith(prefix))


def many_candidates(count: int) -> str:
    return "".join(
        f"a=candidate:{port} 1 udp 2130706431 192.0.2.1 {port} typ host\r\n"
        for port in range(40000, 40000 + count)
    )


async def test_a_real_offer_with_sixteen_slots_passes() -> None:
    offer = check_offer(await real_offer(slots=16))
    assert len(offer.media) == MAX_MEDIA_SECTIONS
    sdp = await real_offer()
    check_offer(sdp.replace("a=mid:0\r\n", "a=mid:0\r\n" + many_candidates(50)))


async def test_session_level_credentials_count() -> None:
    sdp = await real_offer(slots=0)
    fingerprint = re.search(r"^a=fingerprint:.*\r\n", sdp, re.MULTILINE)
    assert fingerprint is not None
    moved = drop(sdp, "a=fingerprint").replace("t=0 0\r\n", "t=0 0\r\n" + fingerprint.group())
    check_offer(moved)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: drop(s, "a=fingerprint"), "no DTLS fingerprint"),
        (lambda s: re.sub(r"a=fingerprint:\S+", "a=fingerprint:md5", s), "no DTLS fingerprint"),
        (lambda s: drop(s, "a=ice-ufrag"), "no ICE ufrag"),
        (lambda s: drop(s, "a=ice-pwd"), "no ICE ufrag or password"),
        (lambda s: s.replace("a=ice-pwd:", "a=ice-pwd:short\r\na=x:"), "malformed ICE"),
        (lambda s: drop(s, "a=setup"), "no DTLS setup"),
        (lambda s: s.replace("a=setup:actpass", "a=setup:holdconn"), "not valid SDP"),
        (lambda s: drop(s, "a=rtcp-mux"), "RTCP"),
        (lambda s: s.replace("m=video", "m=text", 1), "'text'"),
        (lambda s: s + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", "application"),
        (lambda s: s.split("m=audio")[0], "no media sections"),
        (lambda s: s + s[s.index("m=audio") :] * 9, "more than 34"),
        (lambda s: s.replace("a=rtpmap:", "a=rtpmap:x", 1), "not valid SDP"),
        (lambda s: re.sub(r"m=audio \d+", "m=audio nine", s, count=1), "not valid SDP"),
        (lambda s: "v=0 but not really an offer", "not valid SDP"),
        (lambda s: s.replace("a=mid:0\r\n", "a=mid:0\r\n" + many_candidates(65)), "ICE candidates"),
    ],
)
async def test_offers_we_cannot_serve_raise_value_error(change: object, message: str) -> None:
    sdp = await real_offer()
    assert callable(change)
    with pytest.raises(ValueError, match=re.escape(message)):
        check_offer(change(sdp))
