"""The `/live` socket.io namespace: handshake by join token, join with one SDP offer for the day,
trickle ICE, media state, raised hands, heartbeats; and the server-side moves TimeTrack makes.

Every event answers with an ack: `{"ok": true, ...}` or `{"ok": false, "error": {code, message}}`.
See docs/protocol.md for the whole protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import socketio

from core.clock import Clock
from core.security import TokenError, Tokens
from media.offer import MAX_CANDIDATES
from media.sfu import Sfu
from signaling.candidates import parse_candidate
from signaling.events import (
    EventError,
    HandEvent,
    HeartbeatEvent,
    IceEvent,
    JoinEvent,
    LeaveEvent,
    MediaStateEvent,
    failure,
    ok,
    parse,
)
from signaling.grants import JoinGrant, read_join_token
from signaling.presence import Member, Presence, quality_of

NAMESPACE = "/live"
MAX_TOKEN_CHARS = 8192
"""A join token is a few hundred characters (two 200-character names of 4-byte characters:
about 1,900)."""
# Longer ones are refused unread: the token reader decompresses the payload of an unverified
# token to explain a refusal, and a small zlib bomb would decompress to hundreds of MB.
log = logging.getLogger("interviewday.signaling")

TOKEN_ERRORS = {
    "expired": "The join token has expired: ask for a new one.",
    "invalid": "The join token is not valid.",
    "wrong_purpose": "This token is not a join token.",
}

PresenceListener = Callable[[Member], None]
Admission = Callable[[str], Awaitable[bool]]
"""Whether this node serves a scope now (the cluster's owner); False refuses the connection."""
CLIENT_EVENTS = frozenset({"join", "ice", "media", "hand", "heartbeat", "leave"})
SERVER_EVENTS = frozenset({"connect", "disconnect"})
"""Triggered by python-socketio itself; a packet can never name them (signaling/packets.py)."""


def refusal(code: str, message: str) -> socketio.exceptions.ConnectionRefusedError:
    """The client's `connect_error` gets `{message, data: {code}}`."""
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code})


def scope_channel(scope: str) -> str:
    return f"scope:{scope}"


def room_channel(room_key: str) -> str:
    return f"room:{room_key}"


def console_channel(scope: str) -> str:
    """Coordinators and observers only: everyone's presence and the full day."""
    return f"console:{scope}"


def staff_channel(scope: str) -> str:
    return f"staff:{scope}"


def person_channel(participant_id: str) -> str:
    return f"p:{participant_id}"


class LiveHub(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(
        self,
        *,
        tokens: Tokens,
        sfu: Sfu,
        clock: Clock,
        namespace: str = NAMESPACE,
    ) -> None:
        super().__init__(namespace)
        self.tokens = tokens
        self.sfu = sfu
        self.clock = clock
        self.presence = Presence()
        self.listeners: list[PresenceListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._join_locks: dict[str, asyncio.Lock] = {}
        self.admit: Admission | None = None
        sfu.on_layout = self._on_layout
        sfu.on_connection_state = self._on_media_state
        sfu.on_downlink = self._on_downlink
        sfu.on_speaker = self._on_speaker

    # --- the handshake and the events --------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            raise refusal("no_token", "Connect with auth {token: <join token>}.")
        if len(token) > MAX_TOKEN_CHARS:  # never decoded: see MAX_TOKEN_CHARS
            raise refusal("token_invalid", TOKEN_ERRORS["invalid"])
        try:
            grant = read_join_token(self.tokens, token)
        except TokenError as exc:
            raise refusal(f"token_{exc.reason}", TOKEN_ERRORS.get(exc.reason, "")) from None
        wanted = auth.get("scope")
        if wanted is not None and wanted != grant.scope:
            raise refusal("wrong_session", "This join token is for another session.")
        if self.admit is not None and not await self.admit(grant.scope):
            # Another node runs this session; the client connects again (through any node,
            # which relays it to the owner when the URL names the scope).
            raise refusal("wrong_node", "This session is served by another server: reconnecting.")
        await self.save_session(sid, {"grant": grant})
        await self.enter_room(sid, scope_channel(grant.scope))
        await self.enter_room(sid, person_channel(grant.participant_id))
        if grant.person_kind == "staff":
            await self.enter_room(sid, staff_channel(grant.scope))
        if grant.role in ("coordinator", "observer"):
            await self.enter_room(sid, console_channel(grant.scope))

    async def _grant(self, sid: str) -> JoinGrant:
        session = await self.get_session(sid)
        grant = session.get("grant")
        if not isinstance(grant, JoinGrant):
            raise EventError("not_connected", "Connect with a join token first.")
        return grant

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """One place dispatches client events and turns every failure into the error ack.

        Every handler takes `(sid, data=None)`: python-socketio passes what the client sent
        after the event name as positional arguments, none when it sent no payload.
        """
        if event in SERVER_EVENTS:
            return await self._server_event(event, *args)
        try:
            sid, payload = args[0], args[1:]
            if event not in CLIENT_EVENTS:
                raise EventError("unknown_event", f"There is no event {event[:64]!r}.")
            if len(payload) > 1:
                raise EventError("invalid", "Send one payload object (or none) per event.")
            handler = getattr(self, f"on_{event}")
            return await handler(sid, payload[0] if payload else None)
        except EventError as exc:
            return failure(exc.code, exc.message)
        except Exception:
            log.exception("live event %s failed", event[:64])
            return failure("internal", "Something went wrong on the server.")

    async def _server_event(self, event: str, *args: Any) -> Any:
        try:
            return await super().trigger_event(event, *args)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception:
            log.exception("live %s failed", event)
            if event == "connect":  # python-socketio accepts unless refused: refuse on a fault
                raise refusal("internal", "Something went wrong on the server.") from None
            return None

    async def on_join(self, sid: str, data: Any = None) -> dict[str, Any]:
        event = parse(JoinEvent, data)
        grant = await self._grant(sid)
        pid = grant.participant_id
        lock = self._join_locks.setdefault(pid, asyncio.Lock())
        async with lock:
            known = self.presence.get(pid)
            # A reconnect lands where the participant was, not where the token first said.
            room_key = known.room_key if known else grant.room_key
            room_name = known.room_name if known else grant.room_name
            try:
                # A second join (this socket or another) replaces the media of the first.
                answer = await self.sfu.add_participant(
                    pid, event.offer, room_key, slots=event.slots
                )
            except ValueError as exc:
                raise EventError("bad_offer", str(exc)) from None
            except ConnectionAbortedError:
                raise EventError("join_aborted", "You left while joining: join again.") from None
            member = self.presence.put(
                replace(known, sid=sid, connected=True, last_seen=self.clock.now(), downlink="full")
                if known
                else Member(
                    grant=grant,
                    room_key=room_key,
                    room_name=room_name,
                    sid=sid,
                    connected=True,
                    last_seen=self.clock.now(),
                    observer=grant.role == "observer",
                )
            )
            if member.observer:
                self._mute_uplink(pid)
            else:  # a rejoin keeps what the last `media` said: muted stays muted
                self._apply_media_state(member)
            await self.enter_room(sid, room_channel(room_key))
            if known is not None and known.connected and known.sid and known.sid != sid:
                await self._replaced(known.sid, known.room_key)
        await self._announce(member)
        return ok(
            answer=answer,
            participant_id=pid,
            room=self._room_state(room_key, room_name),
            layout=self.sfu.layout(pid),
            speaker=self.sfu.speaker(room_key),
            server_time=self.clock.now() * 1000,
        )

    async def on_ice(self, sid: str, data: Any = None) -> dict[str, Any]:
        event = parse(IceEvent, data)
        member = self._member(sid)
        if not event.candidate:
            return ok()  # end of candidates
        try:
            candidate = parse_candidate(event.candidate)
        except ValueError as exc:
            raise EventError("bad_candidate", f"candidate: {exc}") from None
        if event.sdpMid is None and event.sdpMLineIndex is None:
            raise EventError("bad_candidate", "Give sdpMid or sdpMLineIndex with a candidate.")
        candidate.sdpMid = event.sdpMid
        candidate.sdpMLineIndex = event.sdpMLineIndex
        try:
            pc = self.sfu.peer_connection(member.participant_id)
        except KeyError:
            raise EventError("not_joined", "Join again: your media connection ended.") from None
        # Bundled: one ICE transport for every m-line; it STUN-checks every remote address.
        transport = pc.getTransceivers()[0].receiver.transport.transport
        if len(transport.getRemoteCandidates()) >= MAX_CANDIDATES:
            raise EventError("bad_candidate", f"At most {MAX_CANDIDATES} candidates per join.")
        await pc.addIceCandidate(candidate)
        return ok()

    async def on_media(self, sid: str, data: Any = None) -> dict[str, Any]:
        event = parse(MediaStateEvent, data)
        member = self.presence.update(
            self._member(sid).participant_id,
            audio=event.audio,
            video=event.video,
            screen=event.screen,
        )
        if not member.observer:
            self._apply_media_state(member)
        await self._announce(member)
        return ok()

    async def on_hand(self, sid: str, data: Any = None) -> dict[str, Any]:
        event = parse(HandEvent, data)
        member = self.presence.update(self._member(sid).participant_id, hand=event.raised)
        await self._announce(member)
        return ok()

    async def on_heartbeat(self, sid: str, data: Any = None) -> dict[str, Any]:
        event = parse(HeartbeatEvent, data)
        member = self.presence.by_socket(sid)
        if member is not None:
            self.presence.update(member.participant_id, last_seen=self.clock.now())
        # The client estimates its clock offset from this, so timers agree across screens.
        return ok(t=event.t, server_time=self.clock.now() * 1000)

    async def on_leave(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Gone for good: the room hears `peer_left`, the console `presence` (not connected)."""
        parse(LeaveEvent, data)
        member = self._member(sid)
        await self._disconnect_media(member)
        self.presence.members.pop(member.participant_id, None)
        self.presence.by_sid.pop(sid, None)
        await self.leave_room(sid, room_channel(member.room_key))
        await self.emit(
            "peer_left",
            {"participant_id": member.participant_id},
            room=room_channel(member.room_key),
        )
        gone = replace(member, connected=False, sid=None)
        await self._tell_console(gone)
        self._notify(gone)
        return ok()

    async def on_disconnect(self, sid: str, *args: Any) -> None:
        """The socket dropped: the person is kept (a reconnect lands in the same room), and
        the room and the console hear it as `peer` / `presence` with `connected: false`."""
        member = self.presence.drop_socket(sid)
        if member is None:
            return
        await self._disconnect_media(member)
        await self._announce(member)

    # --- what the server does to participants ------------------------------------------

    async def move(self, participant_id: str, room_key: str, room_name: str) -> None:
        """Re-route a participant to another room: same peer connection, no reconnect."""
        member = self.presence.get(participant_id)
        if member is None:
            return
        old_key = member.room_key
        if old_key == room_key:
            return
        member = self.presence.update(participant_id, room_key=room_key, room_name=room_name)
        if member.connected and member.sid:
            await self.leave_room(member.sid, room_channel(old_key))
            await self.enter_room(member.sid, room_channel(room_key))
            with contextlib.suppress(KeyError):
                self.sfu.route(participant_id, room_key)
            await self.emit("moved", self._room_state(room_key, room_name), to=member.sid)
            await self.emit(
                "peer_left", {"participant_id": participant_id}, room=room_channel(old_key)
            )
            await self._announce(member)
        else:  # not connected: only the console shows where they now belong
            await self._tell_console(member)
            self._notify(member)

    def place(self, grant: JoinGrant, room_key: str, room_name: str) -> None:
        """Decide where a participant will land before they join (TimeTrack's placement)."""
        known = self.presence.get(grant.participant_id)
        if known is None:
            self.presence.put(Member(grant=grant, room_key=room_key, room_name=room_name))

    async def deliver(
        self,
        event: str,
        data: dict[str, Any],
        *,
        scope: str | None = None,
        room_key: str | None = None,
        participant_id: str | None = None,
        channel: str | None = None,
    ) -> None:
        if channel is not None:
            await self.emit(event, data, room=channel)
        elif participant_id is not None:
            await self.emit(event, data, room=person_channel(participant_id))
        elif room_key is not None:
            await self.emit(event, data, room=room_channel(room_key))
        elif scope is not None:
            await self.emit(event, data, room=scope_channel(scope))

    async def refresh_quality(self) -> None:
        """Recomputes each member's connection quality from the SFU and tells the room."""
        for pid, stats in self.sfu.all_stats().items():
            member = self.presence.get(pid)
            if member is None:
                continue
            quality = quality_of(
                max(stats.packet_loss_in, stats.packet_loss_out),
                stats.round_trip_time_s,
                stats.connection_state,
            )
            if quality != member.quality:
                await self._announce(self.presence.update(pid, quality=quality))

    # --- helpers -----------------------------------------------------------------------

    def _member(self, sid: str) -> Member:
        member = self.presence.by_socket(sid)
        if member is None or not member.connected:
            raise EventError("not_joined", "Join first (send `join` with your offer).")
        return member

    def _apply_media_state(self, member: Member) -> None:
        """Muting stops forwarding at the server too, not only in the client."""
        for kind, on in (("audio", member.audio), ("video", member.video or member.screen)):
            with contextlib.suppress(ValueError, KeyError):
                self.sfu.set_muted(member.participant_id, kind, not on)

    def _mute_uplink(self, participant_id: str) -> None:
        for kind in ("audio", "video"):
            with contextlib.suppress(ValueError, KeyError):
                self.sfu.set_muted(participant_id, kind, True)
        with contextlib.suppress(KeyError):
            self.sfu.set_hidden(participant_id, True)

    async def _disconnect_media(self, member: Member) -> None:
        with contextlib.suppress(KeyError):
            await self.sfu.remove(member.participant_id)

    def _room_state(self, room_key: str, room_name: str) -> dict[str, Any]:
        return {
            "room_key": room_key,
            "name": room_name,
            "peers": [m.public() for m in self.presence.in_room(room_key)],
        }

    async def _announce(self, member: Member) -> None:
        await self.emit("peer", member.public(), room=room_channel(member.room_key))
        await self._tell_console(member)
        self._notify(member)

    async def _tell_console(self, member: Member) -> None:
        await self.emit("presence", self.describe(member), room=console_channel(member.grant.scope))

    async def _replaced(self, old_sid: str, room_key: str) -> None:
        """The participant joined from another socket (a second tab, or a reconnect before
        the old socket's drop was noticed): the old one stops hearing the room and is told."""
        with contextlib.suppress(Exception):  # it may be gone already
            await self.leave_room(old_sid, room_channel(room_key))
            await self.emit(
                "replaced",
                {"message": "You joined from another window or device."},
                to=old_sid,
            )

    def describe(self, member: Member) -> dict[str, Any]:
        """What the console shows of one person."""
        return {
            **member.public(),
            "room_key": member.room_key,
            "room_name": member.room_name,
            "person_kind": member.grant.person_kind,
            "person_id": member.grant.person_id,
            "last_seen": member.last_seen,
        }

    def roster(self, scope: str) -> list[dict[str, Any]]:
        return [self.describe(m) for m in self.presence.in_scope(scope)]

    def _notify(self, member: Member) -> None:
        for listener in self.listeners:
            listener(member)

    async def disconnect_scope(self, scope: str) -> int:
        """Closes every socket of `scope` on this node (it stopped owning the scope): each
        client reconnects and lands on the new owner. Returns how many were closed."""
        sids = [
            sid
            for sid, _ in self.server.manager.get_participants(self.namespace, scope_channel(scope))
        ]
        for sid in sids:
            with contextlib.suppress(Exception):
                await self.disconnect(sid)
        return len(sids)

    def connected_count(self) -> int:
        return sum(1 for m in self.presence.members.values() if m.connected)

    def spawn(self, coroutine: Any) -> None:
        """Runs `coroutine` in the background; a failure is logged, never lost."""
        self._spawn(coroutine)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[Any]) -> None:
        # Retrieving the exception here is what keeps asyncio from reporting it "never retrieved".
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live notification failed", exc_info=task.exception())

    def _on_layout(self, participant_id: str, layout: dict[str, str | None]) -> None:
        self._spawn(self.emit("layout", layout, room=person_channel(participant_id)))

    def _on_downlink(self, participant_id: str, state: str, estimate_bps: float) -> None:
        """Congestion control changed what this participant receives: tell it why, and tell
        the room (through `peer`), so the people it no longer sees know it still hears them."""
        if self.presence.get(participant_id) is None:
            return
        member = self.presence.update(participant_id, downlink=state)
        data = {"state": state, "estimate_kbps": round(estimate_bps / 1000)}
        self._spawn(self.emit("downlink", data, room=person_channel(participant_id)))
        self._spawn(self._announce(member))

    def _on_speaker(self, room_key: str, participant_id: str | None) -> None:
        """A meeting's active speaker changed: the room's pages put that person first."""
        data = {"participant_id": participant_id}
        self._spawn(self.emit("speaker", data, room=room_channel(room_key)))

    def _on_media_state(self, participant_id: str, state: str) -> None:
        member = self.presence.get(participant_id)
        if member is not None and state == "failed":
            self._spawn(
                self.emit("media_failed", {"state": state}, room=person_channel(participant_id))
            )
