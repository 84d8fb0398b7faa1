"""A headless participant: connects with a join token, publishes pre-encoded synthetic audio and
video in a loop, and counts what it receives. The CLI's `bot` and `loadtest` use it; so do the
tests."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import socketio

from media.pacer import Pacer
from media.synthetic import EncodedClip, SyntheticParticipant
from signaling.hub import NAMESPACE

RECORDED_EVENTS = (
    "layout",
    "moved",
    "peer",
    "peer_left",
    "presence",
    "replaced",
    "media_failed",
    "timetrack",
    "downlink",
    "speaker",
)
"""What the server sends that a bot keeps in `events` (`presence` reaches coordinators only)."""


class BotError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(eq=False)
class LiveBot:
    url: str
    token: str
    video: EncodedClip | None
    audio: EncodedClip | None
    slots: int = 3
    ice_servers: Sequence[Mapping[str, Any]] = ()
    labels: Mapping[tuple[int, int], str] | None = None
    events: list[tuple[str, Any]] = field(default_factory=list)
    event_times: list[float] = field(default_factory=list)
    """time.monotonic() at which each of `events` arrived."""
    layouts: list[dict[str, str | None]] = field(default_factory=list)
    participant_id: str = ""
    room: dict[str, Any] = field(default_factory=dict)
    join_seconds: float = 0.0
    scope: str | None = None
    pacer: Pacer | None = None
    """One pacer shared by many bots sends all their packets from one timer (cheap bots)."""
    ice_transport_policy: str = "all"
    """With "relay", only TURN candidates: a client whose network allows nothing else."""
    token_source: Callable[[], Awaitable[str]] | None = None
    """Where a fresh join token comes from (the join API): with it, a bot whose connection
    drops (its node died or drained) reconnects, with backoff and jitter, through `url`."""
    disconnects: list[float] = field(default_factory=list)
    """time.monotonic() of each drop of the connection."""
    rejoins: list[float] = field(default_factory=list)
    """time.monotonic() of each successful join after a drop."""

    def __post_init__(self) -> None:
        self._event = asyncio.Event()
        self._refusal: Any = None
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._media_closing: tuple[SyntheticParticipant, asyncio.Future[None]] | None = None
        self.sio = self._client()
        self.media = self._participant()

    def _client(self) -> socketio.AsyncClient:
        # No Ctrl-C handler of its own: the program decides (a library handler would drop every
        # bot's socket on SIGINT and start reconnects while the program closes them).
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        sio.on("connect_error", self._on_refused, namespace=NAMESPACE)
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        for name in RECORDED_EVENTS:
            sio.on(name, self._recorder(name), namespace=NAMESPACE)
        return sio

    def _participant(self) -> SyntheticParticipant:
        return SyntheticParticipant(
            self.video,
            self.audio,
            slots=self.slots,
            labels=self.labels,
            ice_servers=self.ice_servers,
            pacer=self.pacer,
            ice_transport_policy=self.ice_transport_policy,
        )

    def _close_media(self) -> asyncio.Future[None]:
        """Closes the current peer connection once: a second caller (close() while a
        reconnect is closing it) awaits the same close; a cancelled caller never cuts it short
        (aiortc's close, interrupted and started again, can wait forever)."""
        media = self.media
        if self._media_closing is None or self._media_closing[0] is not media:
            self._media_closing = (media, asyncio.ensure_future(media.close()))
        return asyncio.shield(self._media_closing[1])

    def _socket_url(self) -> str:
        # The scope in the URL lets any node relay the socket to the session's owner.
        return f"{self.url}/?scope={quote(self.scope, safe='')}" if self.scope else self.url

    async def _on_disconnect(self, *args: Any) -> None:
        if self._closing or self.token_source is None:
            return
        self.disconnects.append(time.monotonic())
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        assert self.token_source is not None
        attempt = 0
        with contextlib.suppress(Exception):
            await self._close_media()
        while not self._closing:
            # Backoff with jitter: a node's participants do not all come back in one instant.
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0) * (0.5 + random.random()))
            attempt += 1
            try:
                self.token = await self.token_source()
                self.sio = self._client()
                self.media = self._participant()
                await self.connect()
            except Exception:
                with contextlib.suppress(Exception):
                    await self._close_media()
                with contextlib.suppress(Exception):
                    await self.sio.disconnect()
                continue
            self.rejoins.append(time.monotonic())
            return

    async def _on_refused(self, data: Any) -> None:
        self._refusal = data

    def _recorder(self, name: str) -> Any:
        async def record(data: Any) -> None:
            self.events.append((name, data))
            self.event_times.append(time.monotonic())
            if name == "layout":
                self.layouts.append(dict(data))
            elif name == "moved":
                self.room = dict(data)
            self._event.set()

        return record

    async def connect(self) -> None:
        started = time.monotonic()
        auth = {"token": self.token, **({"scope": self.scope} if self.scope else {})}
        try:
            await self.sio.connect(
                self._socket_url(),
                auth=auth,
                namespaces=[NAMESPACE],
                transports=["websocket"],
                wait_timeout=10,
            )
        except socketio.exceptions.ConnectionError as exc:
            refusal = self._refusal
            if isinstance(refusal, dict) and isinstance(refusal.get("data"), dict):
                code = str(refusal["data"].get("code"))
                raise BotError(code, str(refusal.get("message"))) from None
            raise BotError("connect_failed", str(exc)) from None

        async def exchange(offer: str) -> str:
            ack = await self.call("join", {"offer": offer, "slots": self.slots})
            self.participant_id = ack["participant_id"]
            self.room = ack["room"]
            self.layouts.append(dict(ack["layout"]))
            answer: str = ack["answer"]
            return answer

        await self.media.connect(exchange)
        self.join_seconds = time.monotonic() - started

    async def call(self, event: str, data: Any = None, wait: float = 30) -> dict[str, Any]:
        ack = await self.sio.call(event, data, namespace=NAMESPACE, timeout=wait)
        if not isinstance(ack, dict) or not ack.get("ok"):
            error = (ack or {}).get("error", {}) if isinstance(ack, dict) else {}
            raise BotError(error.get("code", "bad_ack"), error.get("message", str(ack)))
        return ack

    def mid_showing(self, source_id: str) -> str | None:
        """The video slot the server last said carries `source_id`."""
        if not self.layouts:
            return None
        for mid, who in self.layouts[-1].items():
            slot = self.media.counter.slots.get(mid)
            if who == source_id and slot is not None and slot.kind == "video":
                return mid
        return None

    def frames_from(self, source_id: str, since: float) -> int:
        mid = self.mid_showing(source_id)
        return self.media.counter.frames_since(mid, since) if mid else 0

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnecting
        await self._close_media()
        if self.sio.connected:
            await self.sio.disconnect()
