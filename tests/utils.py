"""Loopback harness for media tests: real aiortc clients negotiating with an in-process Sfu.

Like aiortc's own tests: no signaling server, the offer and answer change hands directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy

from media.sfu import Sfu
from media.synthetic import (
    EncodedClip,
    FrameCounter,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
)


@dataclass
class Client:
    participant_id: str
    pc: RTCPeerConnection
    video: SyntheticVideoTrack
    audio: SyntheticAudioTrack
    counter: FrameCounter
    layouts: list[dict[str, str | None]] = field(default_factory=list)

    def video_mids(self) -> list[str]:
        return [m for m, c in self.counter.slots.items() if c.kind == "video"]

    def mid_showing(self, source_id: str) -> str | None:
        """The video mid the SFU last said carries `source_id`."""
        if not self.layouts:
            return None
        for mid, who in self.layouts[-1].items():
            if who == source_id and self.counter.slots[mid].kind == "video":
                return mid
        return None

    async def close(self) -> None:
        await self.pc.close()


def new_client_pc() -> RTCPeerConnection:
    # No ICE servers: aiortc's default is a public STUN server, and tests stay on this host.
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
) -> Client:
    """Offer own audio+video (sendonly) plus `slots` recvonly audio+video pairs; connect."""
    pc = new_client_pc()
    audio = SyntheticAudioTrack(audio_clip)
    video = SyntheticVideoTrack(video_clip)
    audio.bind(pc.addTransceiver(audio, direction="sendonly").sender)
    video.bind(pc.addTransceiver(video, direction="sendonly").sender)
    for _ in range(slots):
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    # Mids exist once the offer is set; receivers start only after the answer.
    counter = FrameCounter(labels=labels, capture=capture)
    counter.attach_all(pc.getTransceivers())
    answer = await sfu.add_participant(participant_id, pc.localDescription.sdp, room_id)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    client = Client(participant_id, pc, video, audio, counter)
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
