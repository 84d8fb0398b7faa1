"""Answers of read endpoints, kept until the next write: lists people open again and again
(sessions, applicants, forms, staff) are served without the database while nothing changed.

Correctness rests on one number, the data version, which every committed write transaction of
this process raises twice: when it commits (before the database has finished) and when its
connection goes back to the pool (after). An answer is kept only if the version did not move
while it was computed, so an answer read around a commit is never kept. Each answer also lives
at most `ttl_seconds`, which bounds what another process's writes (a CLI command) can leave
stale. Across nodes a write on one node is invisible to another's version, so the cache is off
when Redis joins nodes (`web/app.py` decides).

Answers are kept per program, person and role: nobody is ever served another's answer.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.sqlite import READ_ONLY
from portal.permissions import Actor

MAX_ENTRIES = 2000
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class DataVersion:
    value: int = 0
    # DBAPI connections whose transaction wrote; their return to the pool raises the version.
    pending: set[int] = field(default_factory=set)

    def bump(self) -> None:
        self.value += 1


def track_writes(engine: AsyncEngine, version: DataVersion) -> None:
    """Raises `version` around every commit of a transaction that was not read-only."""

    @event.listens_for(engine.sync_engine, "commit")
    def _committing(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY, False):
            return
        version.bump()
        version.pending.add(id(conn.connection.dbapi_connection))

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _returned(dbapi_connection: Any, _record: Any) -> None:
        if id(dbapi_connection) in version.pending:
            version.pending.discard(id(dbapi_connection))
            version.bump()


# What of a handler's own headers an answer keeps (paging, the body's type).
KEPT_HEADERS = ("Content-Type", "X-Total-Count", "X-Page", "X-Page-Size", "X-Pages", "Link")


@dataclass(frozen=True)
class Kept:
    version: int
    expires_at: float
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


def cache_key(actor: Actor | None, path_qs: str) -> tuple[str, ...]:
    if actor is None:
        return ("anonymous", path_qs)
    return (actor.program_id, actor.kind, actor.id, actor.role or "", path_qs)


@dataclass
class ReadCache:
    version: DataVersion
    ttl_seconds: float = 2.0
    entries: OrderedDict[tuple[str, ...], Kept] = field(default_factory=OrderedDict)
    hits: int = 0
    misses: int = 0

    def get(self, key: tuple[str, ...], now: float) -> Kept | None:
        kept = self.entries.get(key)
        if kept is None or kept.version != self.version.value or kept.expires_at <= now:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return kept

    def put(
        self,
        key: tuple[str, ...],
        started_version: int,
        now: float,
        response: web.Response,
    ) -> None:
        body = response.body
        if (
            started_version != self.version.value  # a write committed meanwhile
            or response.status != 200
            or not isinstance(body, bytes)
            or len(body) > MAX_BODY_BYTES
        ):
            return
        headers = tuple((h, response.headers[h]) for h in KEPT_HEADERS if h in response.headers)
        self.entries[key] = Kept(started_version, now + self.ttl_seconds, 200, body, headers)
        self.entries.move_to_end(key)
        while len(self.entries) > MAX_ENTRIES:
            self.entries.popitem(last=False)


def replay(kept: Kept) -> web.Response:
    response = web.Response(body=kept.body, status=kept.status)
    response.headers.update(kept.headers)
    return response
