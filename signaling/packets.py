"""Decoding socket.io packets from strangers: bounded nesting, no binary, well-formed events.

python-socketio decodes a packet with `json.loads`, which recurses once per `[` or `{`: 3000
levels end in a RecursionError deep inside the library, logged as a traceback. `LimitedJson`
counts the nesting first (strings skipped by one regex, so a 200 KB offer costs one match) and
refuses anything deeper than `MAX_NESTING` with a ValueError. `LivePacket` turns every decoding
problem into one `MalformedPacket` that still knows the packet's namespace and ack id, so the
server can answer it (see `signaling/server.py`); docs/protocol.md, "Limits", is the contract.
"""

from __future__ import annotations

import json
import re
from typing import Any

from socketio import packet as sio_packet

MAX_NESTING = 20
"""Arrays and objects inside one another in one packet; the deepest real event needs 3."""

MAX_INTEGER_DIGITS = 100
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect"})
"""Names only socket.io itself may trigger (a client emitting them would run our handlers)."""

# A JSON string (escapes included) or one bracket; everything else is skipped by finditer.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def check_nesting(text: str, limit: int = MAX_NESTING) -> None:
    """Raise ValueError when `text` nests arrays/objects deeper than `limit` (no recursion)."""
    if text.count("[") + text.count("{") <= limit:
        return  # the usual packet: too few brackets to nest that deep, counted at C speed
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise ValueError(f"nested deeper than {limit} levels")
        elif token in "]}":
            depth -= 1


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError("integer too long")
    return int(digits)


class LimitedJson:
    """The `json` module interface python-socketio's packets use, with bounded decoding."""

    @staticmethod
    def loads(text: str | bytes, **options: Any) -> Any:
        if isinstance(text, bytes | bytearray):
            text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
        check_nesting(text)
        options.setdefault("parse_int", _bounded_int)
        options.setdefault("parse_constant", _no_constant)  # NaN, Infinity: not JSON either
        return json.loads(text, **options)

    @staticmethod
    def dumps(data: Any, **options: Any) -> str:
        return json.dumps(data, **options)


class MalformedPacket(ValueError):
    """A packet we refuse, with what was readable of its header (for the error ack)."""

    def __init__(
        self, reason: str, *, packet_type: int | None, namespace: str | None, ack_id: int | None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.packet_type = packet_type
        self.namespace = namespace or "/"
        self.ack_id = ack_id

    @property
    def answerable(self) -> bool:
        """An event that asked for an ack: the client is waiting for one."""
        return self.packet_type == sio_packet.EVENT and self.ack_id is not None


def event_problem(data: Any) -> str | None:
    """Why an EVENT packet's data is not `[name, ...args]` with a name a client may use."""
    if not isinstance(data, list) or not data:
        return "an event is a list: [name, payload]"
    name = data[0]
    if not isinstance(name, str) or not name:
        return "an event name is a non-empty string"
    if name in RESERVED_EVENTS:
        return f"{name!r} is reserved for socket.io itself"
    return None


class LivePacket(sio_packet.Packet):  # type: ignore[misc]
    """socket.io packets as the /live server reads them: text only, bounded, well-formed."""

    json = LimitedJson

    def __init__(self, *args: Any, encoded_packet: Any = None, **options: Any) -> None:
        # The base class skips decoding an empty packet and then reads it as an empty EVENT,
        # which python-socketio indexes (`data[0]`): refuse it here.
        if encoded_packet is not None and not encoded_packet:
            raise MalformedPacket("an empty packet", packet_type=None, namespace=None, ack_id=None)
        super().__init__(*args, encoded_packet=encoded_packet, **options)

    def decode(self, encoded_packet: Any) -> int:
        # Header fields survive a failure below, so a refusal can still be acked.
        self.packet_type = None
        self.namespace = None
        self.id = None
        if not isinstance(encoded_packet, str):
            raise self._refusal("binary frames are not part of this protocol")
        try:
            attachments: int = super().decode(encoded_packet)
        except (ValueError, RecursionError) as exc:
            # RecursionError cannot come from LimitedJson; kept so no decoder path can escape.
            raise self._refusal(f"not a valid packet: {str(exc)[:200]}") from None
        if self.packet_type not in (
            sio_packet.CONNECT,
            sio_packet.DISCONNECT,
            sio_packet.EVENT,
            sio_packet.ACK,
        ):
            raise self._refusal("binary and unknown packet types are not accepted")
        if attachments:
            raise self._refusal("binary attachments are not accepted")
        if self.packet_type == sio_packet.EVENT:
            problem = event_problem(self.data)
            if problem:
                raise self._refusal(problem)
        if self.packet_type == sio_packet.ACK and not isinstance(self.data, list):
            raise self._refusal("an ack carries a list")
        return 0

    def _refusal(self, reason: str) -> MalformedPacket:
        packet_type = self.packet_type if isinstance(self.packet_type, int) else None
        return MalformedPacket(
            reason, packet_type=packet_type, namespace=self.namespace, ack_id=self.id
        )
