"""Resolved sessions, cached a few seconds per node, and forgotten on every node at logout.

Every request with a session cookie needs its person (who, which program, which role). Looking
that up costs a transaction; a person clicking through pages sends several requests a second.
So a resolved `Identity` is kept `ttl_seconds` (5 s) on the node that resolved it.

What that costs, and how it is bounded:
- logout and role switches forget the entry on this node at once, and on the other nodes as
  soon as the event bus (Redis across nodes) delivers the message;
- anything else that changes who someone is (a deactivation, a changed role, a session deleted
  by other means) is seen by each node within `ttl_seconds`, and so is a logout whose message
  was lost (Redis briefly unreachable);
- the session's own expiry is checked on every use, and the cache holds at most `max_entries`.

Entries are keyed by the session's id (the hash of the cookie, as stored), so the bus never
carries a usable cookie.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.bus import EventBus
from portal.auth import session_key
from web.session import Identity

log = logging.getLogger("interviewday.identities")

CHANNEL = "identities.forget"


@dataclass(frozen=True)
class _Cached:
    identity: Identity
    session_expires_at: datetime
    fresh_until: float


class IdentityCache:
    def __init__(
        self,
        ttl_seconds: float = 5.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, _Cached] = OrderedDict()

    def get(self, cookie_value: str, now: datetime) -> Identity | None:
        session_id = session_key(cookie_value)
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        if entry.fresh_until <= self._monotonic() or entry.session_expires_at <= now:
            del self._entries[session_id]
            return None
        return entry.identity

    def put(self, identity: Identity, session_expires_at: datetime) -> None:
        fresh_until = self._monotonic() + self.ttl_seconds
        self._entries[identity.session_id] = _Cached(identity, session_expires_at, fresh_until)
        self._entries.move_to_end(identity.session_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._entries)


async def forget_everywhere(cache: IdentityCache, bus: EventBus, session_id: str) -> None:
    """Here at once; on the other nodes when the bus delivers (else within the TTL)."""
    cache.forget(session_id)
    try:
        await bus.publish(CHANNEL, {"session": session_id})
    except Exception:
        log.warning("could not tell the other nodes to forget a session", exc_info=True)


async def listen_for_forgotten(cache: IdentityCache, bus: EventBus) -> None:
    """Runs for the app's lifetime; a broken subscription is retried after a second."""
    while True:
        try:
            async for message in bus.subscribe(CHANNEL):
                cache.forget(str(message.get("session", "")))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("identity invalidation listener failed; retrying", exc_info=True)
        await asyncio.sleep(1.0)
