"""The socket.io server for /live, hardened against what strangers send.

- Size: one websocket message is at most `MAX_MESSAGE_BYTES` (aiohttp enforces it while
  reading). A bigger one closes the connection (close code 1009), logged once as a warning.
- Transport: websocket only (every client of ours uses it); an engine.io frame no client of
  ours would send closes the connection, logged once.
- Packets: decoded by `LivePacket` (bounded nesting, no binary). A packet we refuse is answered
  with the ack `bad_packet` when it asked for one, and counts as a strike; `STRIKES` strikes
  within `STRIKE_WINDOW_S` seconds (by the injected clock) close the connection.

python-socketio and python-engineio offer no public hook for refused packets or transport
errors, so two private extension points are used (pinned by tests/live/test_signaling_hostile.py):
`AsyncServer._handle_eio_message` and the engine.io driver table `AsyncServer._async`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import aiohttp
import socketio
from aiohttp import WSCloseCode
from engineio.async_drivers import aiohttp as engineio_aiohttp
from socketio import packet as sio_packet

from core.clock import Clock
from signaling.events import failure
from signaling.packets import LivePacket, MalformedPacket

MAX_MESSAGE_BYTES = 256 * 1024
"""A join offer is at most 200,000 characters (signaling/events.py); room to spare."""
STRIKES = 3
STRIKE_WINDOW_S = 60.0
# Engine.io frames other than messages carry at most "probe".
MAX_CONTROL_FRAME = 16

log = logging.getLogger("interviewday.signaling")


class Strikes:
    """Refused packets per connection within a sliding window of time."""

    def __init__(self, limit: int = STRIKES, window: float = STRIKE_WINDOW_S) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[str, deque[float]] = {}

    def add(self, key: str, now: float) -> int:
        """Record one strike; return how many fall within the window (this one included)."""
        times = self._times.setdefault(key, deque())
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times)

    def forget(self, key: str) -> None:
        self._times.pop(key, None)

    def __len__(self) -> int:
        return len(self._times)


def engine_frame_problem(frame: str) -> str | None:
    """Why a websocket text frame is not an engine.io packet as our clients send them.

    engine.io itself would crash on some of these (an empty frame, an unknown type, a deeply
    nested payload on a control packet) with a traceback; we close the connection instead.
    """
    if not frame or frame[0] not in "0123456":
        return "not an engine.io packet"
    if frame[0] == "4":  # a message: a socket.io packet follows, which starts with a digit
        if len(frame) > 1 and not ("0" <= frame[1] <= "9"):
            return "an engine.io message that is not a socket.io packet"
        return None
    if len(frame) > MAX_CONTROL_FRAME:
        return "an engine.io control packet with a payload"
    return None


class LiveWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]
    """engine.io's aiohttp websocket, telling why a connection ends instead of going silent."""

    async def wait(self) -> str | bytes:
        message = await self._sock.receive()
        if message.type == aiohttp.WSMsgType.ERROR:
            error = message.data
            if getattr(error, "code", None) == WSCloseCode.MESSAGE_TOO_BIG:
                log.warning("live connection closed: a message over %d bytes", MAX_MESSAGE_BYTES)
            else:
                log.warning("live connection closed: %s", error)
            raise OSError("websocket error")
        data = message.data
        if message.type == aiohttp.WSMsgType.TEXT and isinstance(data, str):
            problem = engine_frame_problem(data)
            if problem is not None:
                log.warning("live connection closed: %s", problem)
                raise OSError(problem)
            return data
        if message.type == aiohttp.WSMsgType.BINARY and isinstance(data, bytes):
            return data
        raise OSError("websocket closed")  # close frames: engine.io ends the connection


class LiveServer(socketio.AsyncServer):  # type: ignore[misc]
    """socket.io over aiohttp websockets with the limits in the module docstring."""

    def __init__(self, *, clock: Clock, **options: Any) -> None:
        super().__init__(
            async_mode="aiohttp",
            serializer=LivePacket,
            transports=["websocket"],
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            **options,
        )
        self.clock = clock
        self.strikes = Strikes()
        self.eio._async = {**self.eio._async, "websocket": LiveWebSocket}

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except MalformedPacket as exc:
            await self.refuse(eio_sid, exc)

    async def _handle_eio_disconnect(self, eio_sid: str, *args: Any) -> None:
        self.strikes.forget(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, *args)

    async def refuse(self, eio_sid: str, refused: MalformedPacket) -> None:
        """Answer a refused packet, count the strike, close the connection at the limit."""
        count = self.strikes.add(eio_sid, self.clock.now())
        log.warning(
            "live packet refused (%s): strike %d of %d for connection %s",
            refused.reason,
            count,
            self.strikes.limit,
            eio_sid,
        )
        sid = self.manager.sid_from_eio_sid(eio_sid, refused.namespace)
        if refused.answerable and sid is not None:
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    sio_packet.ACK,
                    namespace=refused.namespace,
                    id=refused.ack_id,
                    data=[failure("bad_packet", f"The packet was refused: {refused.reason}.")],
                ),
            )
        if count >= self.strikes.limit:
            log.warning("live connection %s closed: %d refused packets", eio_sid, count)
            self.strikes.forget(eio_sid)
            await self.eio.disconnect(eio_sid)
