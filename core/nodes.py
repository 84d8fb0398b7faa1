"""The node registry: every serving process announces itself with a heartbeat, and a session is
placed on the least loaded live node.

A node is one process, named by an instance id that is new at every start (`<NODE_ID>-<random>`),
so two processes started with the same `NODE_ID` are never mistaken for one another.
`LocalNodes` is the registry of a lone node; `RedisNodes` keeps one key per node that expires
when its heartbeats stop, so a killed node leaves the registry by itself.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import redis.asyncio as aioredis

HEARTBEAT_SECONDS = 1.0
NODE_TTL_MS = 4000
"""A node missing four heartbeats is gone: nothing is placed on it any more."""


def new_instance_id(node_id: str) -> str:
    return f"{node_id}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class NodeInfo:
    instance: str
    node_id: str
    address: str
    """Where the other nodes reach it (`INTERVIEWDAY_INTERNAL_URL`)."""
    sessions: int = 0
    participants: int = 0
    cpu: float = 0.0
    """The process's share of one core over the last heartbeat interval (0..cores)."""
    draining: bool = False
    started_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> NodeInfo | None:
        try:
            data: Any = json.loads(raw)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return None


def load_score(node: NodeInfo) -> float:
    """Participants dominate (each is a peer connection the node forwards for), then CPU; a
    session with nobody in it yet still counts, so an empty cluster spreads sessions too."""
    return node.participants + 2.0 * node.sessions + 10.0 * node.cpu


def choose_node(nodes: Iterable[NodeInfo], *, exclude: Iterable[str] = ()) -> NodeInfo | None:
    """The least loaded node that takes new sessions (ties: the lowest instance id, so every
    node asked at once makes the same choice)."""
    skipped = set(exclude)
    candidates = [n for n in nodes if not n.draining and n.instance not in skipped]
    if not candidates:
        return None
    return min(candidates, key=lambda n: (load_score(n), n.instance))


class NodeRegistry(Protocol):
    async def announce(self, node: NodeInfo) -> None: ...

    async def remove(self, instance: str) -> None: ...

    async def live(self) -> list[NodeInfo]: ...

    async def get(self, instance: str) -> NodeInfo | None: ...


class LocalNodes:
    """One node: it is the whole cluster."""

    def __init__(self) -> None:
        self._me: NodeInfo | None = None

    async def announce(self, node: NodeInfo) -> None:
        self._me = node

    async def remove(self, instance: str) -> None:
        if self._me is not None and self._me.instance == instance:
            self._me = None

    async def live(self) -> list[NodeInfo]:
        return [self._me] if self._me is not None else []

    async def get(self, instance: str) -> NodeInfo | None:
        return self._me if self._me is not None and self._me.instance == instance else None


class RedisNodes:
    def __init__(self, client: aioredis.Redis, prefix: str = "interviewday:node:") -> None:
        self._client = client
        self._prefix = prefix
        self._index = prefix + "index"

    async def announce(self, node: NodeInfo) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.set(self._prefix + node.instance, node.to_json(), px=NODE_TTL_MS)
            pipe.sadd(self._index, node.instance)
            await pipe.execute()

    async def remove(self, instance: str) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.delete(self._prefix + instance)
            pipe.srem(self._index, instance)
            await pipe.execute()

    async def live(self) -> list[NodeInfo]:
        members = sorted(
            m.decode() if isinstance(m, bytes) else str(m)
            for m in await self._client.smembers(self._index)
        )
        if not members:
            return []
        values = await self._client.mget([self._prefix + m for m in members])
        found: list[NodeInfo] = []
        gone: list[str] = []
        for instance, raw in zip(members, values, strict=True):
            node = NodeInfo.from_json(raw) if raw is not None else None
            if node is None:
                gone.append(instance)
            else:
                found.append(node)
        if gone:
            # Expired heartbeats: forget them so the index does not grow with every restart.
            await self._client.srem(self._index, *gone)
        return found

    async def get(self, instance: str) -> NodeInfo | None:
        raw = await self._client.get(self._prefix + instance)
        return NodeInfo.from_json(raw) if raw is not None else None


def with_load(
    node: NodeInfo, *, sessions: int, participants: int, cpu: float, draining: bool
) -> NodeInfo:
    return replace(
        node, sessions=sessions, participants=participants, cpu=round(cpu, 3), draining=draining
    )
