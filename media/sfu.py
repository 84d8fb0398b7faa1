"""The SFU: one peer connection per participant, fixed receive slots, server-side routing.

It knows participants, the group ("room") each one is routed to and the receive slots each
one negotiated, nothing else: not sessions, not signaling, not what a room means.

Slot protocol (the client is the offerer, once, for the whole day):
- the offer carries the participant's own audio and video (sendonly or sendrecv), then K
  receive-only audio+video pairs (K chosen by the client);
- the answer accepts VP8 and Opus only, with `bundlePolicy=max-bundle`;
- `route()` decides which other participant feeds which pair; `on_layout(participant_id,
  {mid: source participant id or None})` tells signaling, for every audio and video slot mid.
Moving a participant to another room is `route()` again: no renegotiation, no new ICE.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
)
from aiortc.rtcconfiguration import RTCBundlePolicy

from . import fastpath
from .forwarder import OutSlot
from .layout import assign_slots
from .negotiate import CODEC_BY_KIND, NACK_HISTORY, negotiate

__all__ = ["CODEC_BY_KIND", "NACK_HISTORY", "IceServer", "Sfu"]
from .offer import check_offer
from .participant import Participant
from .speaker import SpeakerTracker
from .stats import ParticipantStats, rate_bps

logger = logging.getLogger(__name__)

RTCP_INTERVAL = 1.0  # seconds between sender reports (randomized +-25%, RFC 3550 6.2)

CONTROL_INTERVAL = 0.25  # seconds between congestion-control decisions
SPEAKER_INTERVAL = 0.1  # seconds between looks at who speaks (a switch should take < 1 s)

LayoutCallback = Callable[[str, dict[str, str | None]], None]
StateCallback = Callable[[str, str], None]
DownlinkCallback = Callable[[str, str, float], None]
SpeakerCallback = Callable[[str, str | None], None]
MEETING_SIZE = 5
"""From this many members a room is a meeting: the active speaker leads, others are tiles."""


@dataclass(frozen=True)
class IceServer:
    """A STUN/TURN server handed to every peer connection (none by default)."""

    urls: str | list[str]
    username: str | None = None
    credential: str | None = None


def _rtc_ice_server(server: IceServer | Mapping[str, Any]) -> RTCIceServer:
    if isinstance(server, IceServer):
        return RTCIceServer(
            urls=server.urls, username=server.username, credential=server.credential
        )
    return RTCIceServer(
        urls=server["urls"], username=server.get("username"), credential=server.get("credential")
    )


def _log_failure(task: asyncio.Future[None]) -> None:
    """Retrieve a background task's exception (asyncio warns about unretrieved ones) and log it."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("SFU background task failed", exc_info=task.exception())


class Sfu:
    """Selective forwarding unit: see the module docstring for the slot protocol."""

    def __init__(
        self,
        ice_servers: Sequence[IceServer | Mapping[str, Any]] = (),
        *,
        on_layout: LayoutCallback | None = None,
        on_connection_state: StateCallback | None = None,
        on_downlink: DownlinkCallback | None = None,
        on_speaker: SpeakerCallback | None = None,
        keyframe_interval: float = 0.5,
        congestion_control: bool = True,
    ) -> None:
        self._ice_servers = [_rtc_ice_server(s) for s in ice_servers]
        self._participants: dict[str, Participant] = {}
        self._adding: dict[str, object] = {}  # participant id -> token of the latest add
        self._rtcp_task: asyncio.Future[None] | None = None
        self._control_task: asyncio.Future[None] | None = None
        self._speakers: dict[str, SpeakerTracker] = {}
        self._congestion_control = congestion_control
        # Room -> members in the order they entered (a dict as an ordered set).
        self._rooms: dict[str, dict[str, None]] = {}
        self._keyframe_interval = keyframe_interval
        self.on_layout = on_layout
        self.on_connection_state = on_connection_state
        self.on_downlink = on_downlink
        """`on_downlink(participant_id, state, estimate_bps)` when congestion control changes
        what a participant's downlink gets: "full", "reduced" or "audio_only"."""
        self.on_speaker = on_speaker
        """`on_speaker(room_id, participant_id or None)` when a meeting's active speaker
        changes."""

    # --- public API ----------------------------------------------------------------------

    @property
    def participant_ids(self) -> list[str]:
        return list(self._participants)

    def room_of(self, participant_id: str) -> str:
        return self._get(participant_id).room_id

    def peer_connection(self, participant_id: str) -> RTCPeerConnection:
        return self._get(participant_id).pc

    def layout(self, participant_id: str) -> dict[str, str | None]:
        return self._get(participant_id).layout()

    async def add_participant(
        self, participant_id: str, offer_sdp: str, room_id: str, *, slots: int | None = None
    ) -> str:
        """Accept a participant's offer, route it to `room_id`; return the answer SDP.

        With `slots`, the offer must be laid out as the live protocol says (own audio and
        video, then `slots` receive pairs: media/offer.py `check_layout`).

        A participant id that is already connected is replaced (a reconnect); of two adds
        racing for one id the later wins. Raises ValueError for an offer we cannot serve (no
        VP8/Opus, malformed SDP, no fingerprint: see media/offer.py), ConnectionAbortedError
        if `remove()` or a newer add for the same id came while this one was negotiating.
        """
        # Before anything exists: nothing to undo, no task left behind.
        check_offer(offer_sdp, slots)
        token = object()
        self._adding[participant_id] = token
        await self._discard(participant_id)
        pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=list(self._ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )
        pc.on("connectionstatechange", lambda: self._on_connection_state(participant_id, pc))
        try:
            participant = await negotiate(
                participant_id,
                pc,
                offer_sdp,
                keyframe_interval=self._keyframe_interval,
                on_remb=functools.partial(self._on_remb, participant_id),
            )
        except Exception as exc:
            await pc.close()
            if isinstance(exc, ValueError):
                raise
            raise ValueError(f"cannot answer offer: {exc}") from exc
        if self._adding.get(participant_id) is not token:
            await pc.close()
            raise ConnectionAbortedError(f"{participant_id} was removed or re-added meanwhile")
        del self._adding[participant_id]
        self._participants[participant_id] = participant
        if self._rtcp_task is None:
            self._rtcp_task = asyncio.ensure_future(self._send_reports())
            self._rtcp_task.add_done_callback(_log_failure)
        if self._control_task is None:
            self._control_task = asyncio.ensure_future(self._control())
            self._control_task.add_done_callback(_log_failure)
        self._enter(participant, room_id, announce=True)
        if pc.connectionState != "new":  # changed before we were listening for it
            self._on_connection_state(participant_id, pc)
        return participant.answer_sdp

    def route(self, participant_id: str, room_id: str) -> None:
        """Re-route a participant's uplink and downlink to `room_id` (same peer connection)."""
        participant = self._get(participant_id)
        if participant.room_id == room_id:
            return
        self._enter(participant, room_id)

    async def remove(self, participant_id: str) -> None:
        """Disconnect a participant (or abort its pending add); re-layout its watchers."""
        self._adding.pop(participant_id, None)
        await self._discard(participant_id)

    async def close(self) -> None:
        self._adding.clear()
        for participant_id in list(self._participants):
            await self.remove(participant_id)
        for task in (self._rtcp_task, self._control_task):
            if task is not None:
                task.cancel()
        self._rtcp_task = self._control_task = None

    def set_muted(self, participant_id: str, kind: str, muted: bool) -> None:
        """Stop (or resume) forwarding one kind of a participant's uplink to everyone."""
        source = self._get(participant_id).sources.get(kind)
        if source is None:
            raise ValueError(f"{participant_id} publishes no {kind}")
        source.set_muted(muted)

    def set_hidden(self, participant_id: str, hidden: bool) -> None:
        """An observer receives the room without taking a slot on anyone else's screen."""
        participant = self._get(participant_id)
        if participant.hidden == hidden:
            return
        participant.hidden = hidden
        for member_id in self._rooms.get(participant.room_id, {}):
            if member_id != participant_id:
                self._relayout(self._participants[member_id])

    def stats(self, participant_id: str) -> ParticipantStats:
        participant = self._get(participant_id)
        sources = participant.sources.values()
        slots = participant.slots()
        bytes_in = sum(s.bytes_in for s in sources)
        bytes_out = sum(s.bytes_out for s in slots)
        now = time.monotonic()
        then, before_in, before_out = participant.sample
        if now - then >= 1.0:  # rates over the last second or more (since join at first)
            participant.rates = (
                rate_bps(bytes_in, before_in, now - then),
                rate_bps(bytes_out, before_out, now - then),
            )
            participant.sample = (now, bytes_in, bytes_out)
        expected = lost = 0
        for receiver in participant.receivers:
            e, lo = fastpath.receiver_loss(receiver)
            expected += e
            lost += lo
        active = [s.output for s in slots if s.current is not None]
        rtts = [s.output.rtt for s in slots if s.output.rtt is not None]
        return ParticipantStats(
            participant_id=participant.id,
            room_id=participant.room_id,
            connection_state=participant.state,
            bitrate_in_bps=participant.rates[0],
            bitrate_out_bps=participant.rates[1],
            packets_in=sum(s.packets_in for s in sources),
            packets_out=sum(s.packets_out for s in slots),
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            frames_in=sum(s.frames_in for s in sources),
            frames_out=sum(s.frames_out for s in slots),
            packet_loss_in=lost / expected if expected else 0.0,
            packet_loss_out=(sum(o.fraction_lost for o in active) / len(active) if active else 0.0),
            round_trip_time_s=sum(rtts) / len(rtts) if rtts else None,
            keyframes_requested=sum(s.keyframes_requested for s in sources),
            packets_dropped=sum(s.dropped for s in slots),
            downlink_state=participant.control.state if participant.control else "full",
            downlink_estimate_bps=(
                participant.control.estimator.estimate if participant.control else 0.0
            ),
            video_layers={
                s.mid: (-1 if s.paused else s.layer) for s in slots if s.is_video and s.current
            },
            layers_in=len(participant.sources["video"].layers)
            if "video" in participant.sources
            else 0,
        )

    def all_stats(self) -> dict[str, ParticipantStats]:
        return {pid: self.stats(pid) for pid in self._participants}

    # --- routing -------------------------------------------------------------------------

    async def _discard(self, participant_id: str) -> None:
        participant = self._participants.pop(participant_id, None)
        if participant is None:
            return
        affected = self._leave(participant)
        for source in participant.sources.values():
            source.close()
        for slot in participant.slots():
            slot.detach()
        participant.downlink.close()
        for other_id in affected:
            self._relayout(self._participants[other_id])
        await participant.pc.close()

    def _get(self, participant_id: str) -> Participant:
        try:
            return self._participants[participant_id]
        except KeyError:
            raise KeyError(f"unknown participant {participant_id!r}") from None

    def _enter(self, participant: Participant, room_id: str, announce: bool = False) -> None:
        affected = self._leave(participant)
        participant.room_id = room_id
        members = self._rooms.setdefault(room_id, {})
        members[participant.id] = None
        self._relayout(participant, announce)
        for member_id in dict.fromkeys([*members, *affected]):
            if member_id != participant.id:
                self._relayout(self._participants[member_id])

    def _leave(self, participant: Participant) -> list[str]:
        """Take a participant out of its room; return who stays there."""
        members = self._rooms.get(participant.room_id)
        if members is None:
            return []
        members.pop(participant.id, None)
        if not members:
            del self._rooms[participant.room_id]
        return [m for m in members if m in self._participants]

    def _relayout(self, participant: Participant, announce: bool = False) -> None:
        """Re-decide what the participant's slots show; tell `on_layout` if it changed."""
        members = self._rooms.get(participant.room_id, {})
        desired = [
            m
            for m in members
            if m != participant.id and not getattr(self._participants.get(m), "hidden", False)
        ]
        desired = self._follow_speakers(participant, desired)
        shown = assign_slots(participant.shown, desired)
        if shown == participant.shown and not announce:
            return
        for pair, before, after in zip(participant.pairs, participant.shown, shown, strict=True):
            if before == after:
                continue
            publisher = self._participants.get(after) if after is not None else None
            for slot in pair:
                if slot is not None:
                    source = publisher.sources.get(slot.kind) if publisher else None
                    slot.assign(source)
        participant.shown = shown
        if self.on_layout is not None:
            try:
                self.on_layout(participant.id, participant.layout())
            except Exception:
                logger.exception("on_layout callback failed")

    def _follow_speakers(self, participant: Participant, desired: list[str]) -> list[str]:
        """In a meeting bigger than the participant's slots, the slots follow who speaks: the
        active speaker first, then the most recent speakers; a speaker not on screen takes
        the place of whoever shown has been quiet longest."""
        tracker = self._speakers.get(participant.room_id)
        if tracker is None or len(desired) <= len(participant.pairs):
            return desired
        order = {member: i for i, member in enumerate(desired)}
        spoke = tracker.last_spoke
        ranked = sorted(
            desired,
            key=lambda m: (m != tracker.dominant, -spoke.get(m, -1e9), order[m]),
        )
        dominant = tracker.dominant
        if dominant is None or dominant not in order or dominant in participant.shown:
            return ranked
        shown = [m for m in participant.shown if m is not None and m in order]
        if len(shown) < len(participant.pairs):
            return ranked  # a free slot takes the speaker
        quietest = min(shown, key=lambda m: (spoke.get(m, -1e9), -order[m]))
        return [m for m in ranked if m != quietest]

    async def _send_reports(self) -> None:
        """Sender reports for every slot of every participant and receiver reports on what
        it publishes, from one timer.

        aiortc would run a task and a timer per sender and per receiver (2K + 2 per
        participant), each waking about once a second; here each participant gets one compound
        packet per round.
        """
        while True:
            await asyncio.sleep(RTCP_INTERVAL * (0.75 + 0.5 * random.random()))
            for participant in list(self._participants.values()):
                try:
                    fastpath.send_sender_reports(
                        participant.downlink,
                        [slot.output for slot in participant.slots()],
                        participant.cname,
                        participant.receivers,
                    )
                except Exception:  # one peer's failure must not stop the reports
                    logger.exception("sender reports to %s failed", participant.id)

    def _on_remb(self, participant_id: str, bitrate: int) -> None:
        participant = self._participants.get(participant_id)
        if participant is not None and participant.control is not None:
            participant.control.remb_bps = float(bitrate)
            participant.control.remb_at = time.monotonic()

    async def _control(self) -> None:
        """Congestion control for every participant's downlink, transport-cc feedback for
        their uplinks and the meetings' speakers, from one timer."""
        next_control = time.monotonic()
        while True:
            await asyncio.sleep(SPEAKER_INTERVAL)
            now = time.monotonic()
            self.send_feedback()
            try:
                self._track_speakers(now)
            except Exception:  # a failure here must not stop congestion control
                logger.exception("speaker tracking failed")
            if self._congestion_control and now >= next_control:
                next_control = now + CONTROL_INTERVAL
                self.control_once(now)

    def send_feedback(self) -> None:
        """Transport-cc feedback to every publisher that negotiated it: what arrived since the
        last round, and when (the publisher's own congestion control reads it)."""
        for participant in list(self._participants.values()):
            core = participant.receiver_core
            if not participant.transport_cc or core is None:
                continue
            try:
                sender_ssrc, media_ssrc = participant.feedback_ssrcs()
                fastpath.send_transport_feedback(
                    core, participant.downlink, sender_ssrc, media_ssrc
                )
            except Exception:  # one peer's failure must not stop the others' feedback
                logger.exception("transport-cc feedback to %s failed", participant.id)

    def control_once(self, now: float) -> None:
        """One round of congestion control (the timer's step; tests call it directly)."""
        for participant in self._participants.values():
            for source in participant.sources.values():
                for layer in source.layers:
                    layer.sample_rate(now)
        for participant in list(self._participants.values()):
            control = participant.control
            if control is None or participant.state != "connected":
                continue
            try:
                slots = participant.slots()
                if control.calm(now, slots):
                    continue
                video, tiles = self._video_priority(participant)
                changed = control.tick(now, slots, video, tiles)
            except Exception:  # one peer's failure must not stop the others' control
                logger.exception("congestion control for %s failed", participant.id)
                continue
            if changed and self.on_downlink is not None:
                try:
                    self.on_downlink(participant.id, control.state, control.estimator.estimate)
                except Exception:
                    logger.exception("on_downlink callback failed")

    def speaker(self, room_id: str) -> str | None:
        """The room's active speaker (meetings; None before anyone spoke)."""
        tracker = self._speakers.get(room_id)
        return tracker.dominant if tracker is not None else None

    def _track_speakers(self, now: float) -> None:
        for room_id in [r for r in self._speakers if len(self._rooms.get(r, {})) < MEETING_SIZE]:
            # No longer a meeting (or gone): its pages must stop showing a speaker.
            if self._speakers.pop(room_id).dominant is not None and room_id in self._rooms:
                self._tell_speaker(room_id, None)
        for room_id, members in list(self._rooms.items()):
            if len(members) < MEETING_SIZE:
                continue
            tracker = self._speakers.setdefault(room_id, SpeakerTracker())
            loud_at = {}
            for member_id in members:
                audio = self._participants[member_id].sources.get("audio")
                if audio is not None and not audio.muted:
                    loud_at[member_id] = audio.loud_at
            if not tracker.update(now, loud_at):
                continue
            for member_id in members:
                self._relayout(self._participants[member_id])
            self._tell_speaker(room_id, tracker.dominant)

    def _tell_speaker(self, room_id: str, participant_id: str | None) -> None:
        if self.on_speaker is not None:
            try:
                self.on_speaker(room_id, participant_id)
            except Exception:
                logger.exception("on_speaker callback failed")

    def _video_priority(self, participant: Participant) -> tuple[list[OutSlot], set[str]]:
        """The participant's video slots, most important first, and the mids of those that
        are tiles (a meeting's others: the lowest layer is enough)."""
        video = [
            (pair[1], shown)
            for pair, shown in zip(participant.pairs, participant.shown, strict=True)
            if pair[1] is not None
        ]
        tracker = self._speakers.get(participant.room_id)
        speaker = tracker.dominant if tracker is not None else None
        if speaker == participant.id and tracker is not None:
            # Speaking themself: the page keeps the last other speaker large.
            others = {m: t for m, t in tracker.last_spoke.items() if m != participant.id}
            speaker = max(others, key=others.__getitem__) if others else None
        if speaker is None:
            return [slot for slot, _ in video], set()
        video.sort(key=lambda item: item[1] != speaker)
        tiles = {slot.mid for slot, shown in video if shown != speaker}
        return [slot for slot, _ in video], tiles

    def _on_connection_state(self, participant_id: str, pc: RTCPeerConnection) -> None:
        participant = self._participants.get(participant_id)
        if participant is None or participant.pc is not pc:
            return  # still negotiating (reported once added), removed, or replaced
        state: str = pc.connectionState
        if state == participant.state:
            return
        participant.state = state
        if state == "connected":
            # Media to this participant was held back until DTLS was up: start at keyframes.
            for slot in participant.slots():
                slot.resync()
        if self.on_connection_state is not None:
            try:
                self.on_connection_state(participant.id, state)
            except Exception:
                logger.exception("on_connection_state callback failed")
