"""The live protocol's offer layout (media/offer.py `check_layout`), on real aiortc offers:
own audio, own video (sent by the client), then `slots` receive pairs of audio + video."""

from __future__ import annotations

import re

import pytest

from media.offer import check_offer
from tests.utils import new_client_pc

PROTOCOL = [("audio", "sendonly"), ("video", "sendonly")]


def pairs(count: int, direction: str = "recvonly") -> list[tuple[str, str]]:
    return [("audio", direction), ("video", direction)] * count


async def offer_of(lines: list[tuple[str, str]]) -> str:
    pc = new_client_pc()
    for kind, direction in lines:
        pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


@pytest.mark.parametrize("slots", [0, 1, 3, 16])
async def test_the_protocol_layout_passes(slots: int) -> None:
    check_offer(await offer_of(PROTOCOL + pairs(slots)), slots)
    sendrecv = [("audio", "sendrecv"), ("video", "sendrecv")]
    check_offer(await offer_of(sendrecv + pairs(slots)), slots)


@pytest.mark.parametrize(
    ("lines", "slots", "message"),
    [
        (PROTOCOL + pairs(1), 3, "has 4 media sections; slots=3 needs 8"),
        (PROTOCOL + pairs(3), 1, "has 8 media sections; slots=1 needs 4"),
        (pairs(2), 1, "media section 0 (your own audio) is recvonly"),
        ([("video", "sendonly"), ("audio", "sendonly"), *pairs(1)], 1, "section 0 is video"),
        ([*PROTOCOL, ("video", "recvonly"), ("audio", "recvonly")], 1, "section 2 is video"),
        (PROTOCOL + pairs(1, "sendrecv"), 1, "(slot 0 audio) is sendrecv"),
        (PROTOCOL + pairs(1) + pairs(1, "sendonly"), 2, "(slot 1 audio) is sendonly"),
        (PROTOCOL + pairs(1), 17, "slots must be between 0 and 16"),
    ],
)
async def test_other_layouts_are_refused_naming_the_m_line(
    lines: list[tuple[str, str]], slots: int, message: str
) -> None:
    sdp = await offer_of(lines)
    check_offer(sdp)  # the SFU alone would serve it (a viewer, a bench): only the protocol refuses
    with pytest.raises(ValueError, match=re.escape(message)):
        check_offer(sdp, slots)


async def test_an_m_line_without_a_direction_is_sendrecv() -> None:
    sdp = (await offer_of(PROTOCOL + pairs(0))).replace("a=sendonly\r\n", "")
    check_offer(sdp, 0)
