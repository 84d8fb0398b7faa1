"""The ICE transport policy of a synthetic participant: "relay" gathers TURN candidates only."""

from __future__ import annotations

import re

import pytest

from media.synthetic import SyntheticParticipant


def candidate_types(sdp: str) -> list[str]:
    return re.findall(r"^a=candidate:.* typ (\w+)", sdp, re.MULTILINE)


async def offer_candidates(policy: str) -> list[str]:
    participant = SyntheticParticipant(None, None, slots=1, ice_transport_policy=policy)
    try:
        return candidate_types(await participant.create_offer())
    finally:
        await participant.close()


async def test_all_gathers_host_candidates() -> None:
    assert "host" in await offer_candidates("all")


async def test_relay_without_a_turn_server_gathers_nothing_rather_than_host_candidates() -> None:
    assert await offer_candidates("relay") == []


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="nohost"):
        SyntheticParticipant(None, None, slots=1, ice_transport_policy="nohost")
