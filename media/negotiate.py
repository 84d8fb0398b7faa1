"""Answering one participant's offer: its uplink, its receive slots, the answer SDP.

Part of the SFU (`media.sfu`): the offer's transceivers become sources (what it publishes)
and slot pairs (where it receives others), codecs restricted to VP8 and Opus, simulcast
accepted where the offer sends it.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from itertools import zip_longest
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from . import fastpath
from .control import DownlinkControl
from .forwarder import OutSlot, Source
from .participant import Participant
from .simulcast import SimulcastOffer, accept_simulcast, parse_simulcast
from .transportcc import accept_transport_cc, offered_transport_cc

CODEC_BY_KIND = {"audio": ("audio/opus", 48000), "video": ("video/VP8", 90000)}
NACK_HISTORY = 128  # video packets kept per slot for retransmission: ~2 s at 60 pkt/s, ~150 KB


async def negotiate(
    participant_id: str,
    pc: RTCPeerConnection,
    offer_sdp: str,
    *,
    keyframe_interval: float,
    on_remb: Callable[[int], None],
) -> Participant:
    """Answer a participant's offer on `pc`: its uplink becomes sources, its receive-only
    transceivers slots (audio and video pairs), simulcast and transport-cc accepted where
    offered."""
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    simulcast = parse_simulcast(offer_sdp)
    transport_cc = offered_transport_cc(offer_sdp)
    uplink: dict[str, Any] = {}
    slot_transceivers: dict[str, list[tuple[Any, int]]] = {"audio": [], "video": []}
    for transceiver in pc.getTransceivers():
        kind = transceiver.kind
        if kind not in CODEC_BY_KIND:
            continue
        payload_type = fastpath.restrict_codecs(transceiver, CODEC_BY_KIND[kind][0])
        if kind == "audio":
            fastpath.ask_resilient_opus(transceiver)
        offered = fastpath.offered_direction(transceiver)
        if offered == "sendonly":  # the client receives here: a slot
            transceiver.direction = "sendonly"
            fastpath.detach_sender(transceiver.sender)  # we write its packets and SRs
            slot_transceivers[kind].append((transceiver, payload_type))
        elif offered in ("recvonly", "sendrecv") and kind not in uplink:
            transceiver.direction = "recvonly"
            uplink[kind] = transceiver
        else:
            transceiver.direction = "inactive"
    if not uplink and not any(slot_transceivers.values()):
        raise ValueError("offer has no audio or video")

    dtls = pc.getTransceivers()[0].sender.transport
    downlink = fastpath.Downlink(dtls)
    # Transport-wide numbers on what we forward: the subscriber's feedback on them is the
    # finest congestion signal there is (media/control.py).
    downlink.set_transport_cc(transport_cc)
    sources: dict[str, Source] = {}
    receivers = []
    accepted: dict[str, SimulcastOffer] = {}
    for kind, transceiver in uplink.items():
        receiver = transceiver.receiver
        layers = simulcast.get(transceiver.mid) if kind == "video" else None
        if layers is not None:
            accepted[transceiver.mid] = layers
        source = Source(
            participant_id,
            kind,
            send_pli=functools.partial(fastpath.request_keyframe, receiver),
            keyframe_interval=keyframe_interval,
            rids=layers.rids if layers else (),
        )
        # With transport-cc the publisher estimates its own uplink from our feedback; without
        # it, aiortc's receive-side estimator (every packet through Python) sends REMB.
        fastpath.tap_receiver(receiver, source.on_packet, remb=not transport_cc, reports=True)
        sources[kind] = source
        receivers.append(receiver)

    slots: dict[str, list[OutSlot]] = {"audio": [], "video": []}
    for kind, items in slot_transceivers.items():
        for index, (transceiver, payload_type) in enumerate(items):
            output = fastpath.SlotOutput(
                transceiver.sender,
                downlink,
                NACK_HISTORY if kind == "video" else 0,
                urgent=kind == "audio",
            )
            slot = OutSlot(
                participant_id,
                kind,
                transceiver.mid,
                index,
                output,
                payload_type,
                CODEC_BY_KIND[kind][1],
                fastpath.header_extension_ids(transceiver),
            )
            fastpath.tap_sender(
                transceiver.sender,
                slot.on_keyframe_request,
                slot.on_nack,
                output.on_report,
                on_remb,
            )
            slots[kind].append(slot)
    pairs = list(zip_longest(slots["audio"], slots["video"]))
    for index, pair in enumerate(pairs):
        # One MediaStream per pair in the answer's msid: the browser lip-syncs a pair's
        # audio with its video (one person), never one slot with another.
        for slot in pair:
            if slot is not None:
                fastpath.set_stream_id(slot.output.sender, f"slot{index}")

    answer = await pc.createAnswer()
    await pc.setLocalDescription(answer)
    video_layers = next(iter(accepted.values()), None)
    rid_ids = (video_layers.rid_id, video_layers.repaired_rid_id) if video_layers else (0, 0)
    core = fastpath.fast_receive(pc, rid_ids, transport_cc)
    cname = re.search(r"^a=ssrc:\d+ cname:(\S+)", pc.localDescription.sdp, re.MULTILINE)
    fastpath.read_reports(
        dtls,
        {slot.ssrc: slot.output.on_report for pair in pairs for slot in pair if slot is not None},
        receivers,
    )
    control = DownlinkControl(downlink)
    if transport_cc:
        core.set_feedback_link(downlink)  # read in C where the socket is ours
        fastpath.tap_transport_feedback(dtls, control.on_transport_feedback)
    return Participant(
        id=participant_id,
        pc=pc,
        room_id="",
        downlink=downlink,
        sources=sources,
        pairs=pairs,
        shown=[None] * len(pairs),
        receivers=receivers,
        sample=(time.monotonic(), 0, 0),
        cname=cname.group(1) if cname else participant_id,
        control=control,
        answer_sdp=accept_transport_cc(
            accept_simulcast(pc.localDescription.sdp, accepted), transport_cc
        ),
        receiver_core=core,
        transport_cc=bool(transport_cc and uplink),
    )
