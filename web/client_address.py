"""Who is really on the other end: the peer, or behind a trusted proxy the address it forwards.

Every per-address limit keys on `client_address(request)`. `X-Forwarded-For` is believed only
when the peer is a configured proxy (`INTERVIEWDAY_TRUSTED_PROXIES`), and then only up to the
first hop that is not itself trusted: anything to its left was written by the client and can
say anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from core.settings import IpNetwork
from web.keys import CLUSTER_CLIENT, SETTINGS

UNKNOWN = "unknown"


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IpNetwork]
) -> bool:
    return any(address in network for network in trusted)


def resolve_client(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IpNetwork]
) -> str:
    """The peer unless it is a trusted proxy; then the right-most untrusted forwarded address.

    `forwarded_for` holds every `X-Forwarded-For` header in order. If every hop is trusted the
    left-most one is the best we know; a malformed hop stops the walk there (it is not
    believed, and neither is anything left of it), so the last trusted hop is the answer.
    """
    peer_address = _parse(peer) if peer else None
    if peer_address is None:
        return UNKNOWN
    if not trusted or not _trusted(peer_address, trusted):
        return str(peer_address)
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    current = peer_address
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return str(current)
        if not _trusted(address, trusted):
            return str(address)
        current = address
    return str(current)


def client_address(request: web.Request) -> str:
    forwarded = request.get(CLUSTER_CLIENT)
    if forwarded:
        # Another node of the cluster forwarded this request and signed who the client is
        # (web/forwarding.py).
        return str(forwarded)
    trusted = request.app[SETTINGS].trusted_proxies
    return resolve_client(request.remote, request.headers.getall("X-Forwarded-For", []), trusted)
