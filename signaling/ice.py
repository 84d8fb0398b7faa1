"""ICE servers for clients, with coturn's shared-secret ephemeral credentials (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from core.settings import IceServer

TURN_CREDENTIAL_SECONDS = 12 * 3600


def client_ice_servers(
    servers: tuple[IceServer, ...], user: str, now: float
) -> list[dict[str, Any]]:
    """RTCIceServer dicts. For a server with a shared secret (coturn `use-auth-secret`), the
    username is `<expiry>:<user>` and the credential base64(HMAC-SHA1(secret, username))."""
    result: list[dict[str, Any]] = []
    for server in servers:
        entry: dict[str, Any] = {"urls": list(server.urls)}
        if server.shared_secret:
            username = f"{int(now) + TURN_CREDENTIAL_SECONDS}:{user}"
            digest = hmac.new(server.shared_secret.encode(), username.encode(), hashlib.sha1)
            entry["username"] = username
            entry["credential"] = base64.b64encode(digest.digest()).decode()
        elif server.username:
            entry["username"] = server.username
            entry["credential"] = server.credential or ""
        result.append(entry)
    return result
