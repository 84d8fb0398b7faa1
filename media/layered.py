"""Synthetic simulcast: a bot publishes its video as up to three layers, like a browser does.

aiortc has no simulcast of its own, so the bot's offer gets the RFC 8853 lines added as text
(`offer_layers`), and each layer is its own `PacedStream` with its own SSRC, named by the
rtp-stream-id extension on every packet (`layer_streams`). The top layer keeps the SSRC the
SDP announces; the others get their own RTCP receiver on the transport's router, so the SFU's
keyframe requests, NACKs and receiver reports reach the layer they are about.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import fastpath
from .pacer import PacedStream
from .simulcast import offer_simulcast

if TYPE_CHECKING:
    from aiortc import RTCRtpTransceiver

    from .synthetic import EncodedClip

RID_EXTENSION_ID = 10  # free in aiortc's offers (mid 1, audio level 2, abs-send-time 3)
LAYER_NAMES = ("q", "h", "f")


def layer_names(count: int) -> tuple[str, ...]:
    """Names for `count` layers, lowest first: the top one is always "f"."""
    if not 2 <= count <= len(LAYER_NAMES):
        raise ValueError(f"simulcast needs 2 to {len(LAYER_NAMES)} layers, not {count}")
    return LAYER_NAMES[-count:]


def offer_layers(offer_sdp: str, mid: str, count: int) -> str:
    """The bot's offer with `count` layers sent on video m-line `mid`."""
    return offer_simulcast(offer_sdp, mid, layer_names(count), RID_EXTENSION_ID)


class _LayerRtcp:
    """What the transport's RTCP router calls for one extra layer's SSRC (`tap_sender` hooks
    its handler like a sender's)."""

    def __init__(self, ssrc: int) -> None:
        self._ssrc = ssrc

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        """RTCP nobody asked for (after `tap_sender`'s handling): ignored."""


def layer_streams(
    transceiver: RTCRtpTransceiver,
    clips: Sequence[EncodedClip],
    downlink: fastpath.Downlink,
    cname: str,
    history: int = 128,
    transport_cc: int = 0,
) -> list[PacedStream]:
    """One paced stream per layer (clips lowest quality first) on the video `transceiver`."""
    sender: Any = transceiver.sender
    router = sender.transport._rtp_router
    names = layer_names(len(clips))
    streams = []
    for index, (name, clip) in enumerate(zip(names, clips, strict=True)):
        top = index == len(clips) - 1
        ssrc = sender._ssrc if top else random.randrange(1, 1 << 32)
        rtcp: _LayerRtcp | None = None
        if not top:
            rtcp = _LayerRtcp(ssrc)
            router.register_sender(rtcp, ssrc)
        streams.append(
            PacedStream(
                "video",
                clip,
                sender,
                fastpath.SlotOutput(sender, downlink, history, ssrc=ssrc),
                fastpath.negotiated_payload_type(transceiver),
                str(transceiver.mid),
                fastpath.header_extension_ids(transceiver),
                downlink,
                cname,
                rid=(RID_EXTENSION_ID, name),
                rtcp=rtcp,
                transport_cc=transport_cc,
            )
        )
    return streams
