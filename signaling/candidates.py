"""Trickled ICE candidates from clients, checked field by field before aiortc sees them.

aiortc's `candidate_from_sdp` asserts and converts without checking (AssertionError,
IndexError, ValueError on a short or odd line); here every field is checked and one ValueError
says which (the hub answers it as `bad_candidate`).
"""

from __future__ import annotations

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

CANDIDATE_TYPES = frozenset({"host", "srflx", "prflx", "relay"})
TRANSPORTS = frozenset({"udp", "tcp"})
TCP_TYPES = frozenset({"active", "passive", "so"})
MAX_PRIORITY = 2**32 - 1


def _number(text: str, name: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise ValueError(f"{name} must be a number from {low} to {high}")
    return int(text)


def parse_candidate(line: str) -> RTCIceCandidate:
    """`candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
    [raddr <address>] [rport <port>] [tcptype <type>] [other name value pairs]` (RFC 8839)."""
    bits = line.removeprefix("candidate:").split()
    if len(bits) < 8 or bits[6] != "typ":
        raise ValueError("not an ICE candidate line (RFC 8839: eight fields up to `typ <type>`)")
    foundation, component, transport, priority, address, port, _, kind = bits[:8]
    if not foundation.isascii() or len(foundation) > 32:
        raise ValueError("foundation must be at most 32 ASCII characters")
    _number(component, "component", 1, 256)
    if transport.lower() not in TRANSPORTS:
        raise ValueError("transport must be udp or tcp")
    _number(priority, "priority", 0, MAX_PRIORITY)
    if not address.isascii() or len(address) > 255:
        raise ValueError("address must be an IP address or an mDNS name")
    _number(port, "port", 0, 65535)
    if kind not in CANDIDATE_TYPES:
        raise ValueError(f"type must be one of {', '.join(sorted(CANDIDATE_TYPES))}")
    extensions = bits[8:]
    if len(extensions) % 2:
        raise ValueError("extensions come in name value pairs")
    for name, value in zip(extensions[::2], extensions[1::2], strict=True):
        if name == "rport":
            _number(value, "rport", 0, 65535)
        elif name == "tcptype" and value not in TCP_TYPES:
            raise ValueError("tcptype must be active, passive or so")
    return candidate_from_sdp(" ".join(bits))
