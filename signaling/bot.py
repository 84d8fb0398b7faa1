"""A headless participant: connects with a join token, publishes pre-encoded synthetic audio and
video in a loop, and counts what it receives. The CLI's `bot` and `loadtest` use it; so do the
tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio

from media.pacer import Pacer
from media.synthetic import EncodedClip, SyntheticParticipant
from signaling.hub import NAMESPACE


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

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.media = SyntheticParticipant(
            self.video,
            self.audio,
            slots=self.slots,
            labels=self.labels,
            ice_servers=self.ice_servers,
            pacer=self.pacer,
            ice_transport_policy=self.ice_transport_policy,
        )
        self._event = asyncio.Event()
        self._refusal: Any = None
        self.sio.on("connect_error", self._on_refused, namespace=NAMESPACE)
        for name in ("layout", "moved", "peer", "peer_left", "media_failed", "timetrack"):
            self.sio.on(name, self._recorder(name), namespace=NAMESPACE)

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
                self.url,
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
        await self.media.close()
        if self.sio.connected:
            await self.sio.disconnect()
