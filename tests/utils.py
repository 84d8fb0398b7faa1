"""Loopback harness for media tests: real aiortc clients negotiating with an in-process Sfu.

Like aiortc's own tests: no signaling server, the offer and answer change hands directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.pacer import Pacer
from media.sfu import Sfu
from media.synthetic import EncodedClip, FrameCounter, SyntheticParticipant


@dataclass
class Client:
    participant_id: str
    bot: SyntheticParticipant
    layouts: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def pc(self) -> RTCPeerConnection:
        return self.bot.pc

    @property
    def counter(self) -> FrameCounter:
        return self.bot.counter

    def mid_showing(self, source_id: str) -> str | None:
        """The video mid the SFU last said carries `source_id`."""
        if not self.layouts:
            return None
        for mid, who in self.layouts[-1].items():
            if who == source_id and self.counter.slots[mid].kind == "video":
                return mid
        return None

    async def close(self) -> None:
        await self.bot.close()


def new_client_pc() -> RTCPeerConnection:
    """A bare client connection (no ICE servers: aiortc's default is a public STUN server)."""
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


async def connect_client(
    sfu: Sfu,
    participant_id: str,
    room_id: str,
    video_clip: EncodedClip,
    audio_clip: EncodedClip,
    *,
    slots: int = 3,
    labels: dict[tuple[int, int], str] | None = None,
    capture: bool = False,
    pacer: Pacer | None = None,
) -> Client:
    """Offer own audio+video (sendonly) plus `slots` recvonly audio+video pairs; connect.

    With a `pacer` the client publishes through the fast path instead of aiortc's sender.
    """
    bot = SyntheticParticipant(
        video_clip, audio_clip, slots=slots, labels=labels, capture=capture, pacer=pacer
    )

    async def exchange(offer: str) -> str:
        return await sfu.add_participant(participant_id, offer, room_id)

    await bot.connect(exchange)
    client = Client(participant_id, bot)
    client.layouts.append(sfu.layout(participant_id))
    return client


def track_layouts(sfu: Sfu, clients: dict[str, Client]) -> None:
    """Record every layout the SFU announces into the matching client."""

    def on_layout(participant_id: str, layout: dict[str, str | None]) -> None:
        client = clients.get(participant_id)
        if client is not None:
            client.layouts.append(dict(layout))

    sfu.on_layout = on_layout


async def wait_for(predicate: Callable[[], Any], within: float, interval: float = 0.01) -> float:
    """Wait until `predicate()` is true; return the seconds it took (fails after `within`)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
    return time.monotonic() - start
