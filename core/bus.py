"""The event bus port: in-memory on one node, Redis pub/sub across nodes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis

Message = dict[str, Any]


class EventBus(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(self, channel: str) -> AsyncIterator[Message]: ...

    async def close(self) -> None: ...


class InMemoryBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: dict[str, set[asyncio.Queue[Message]]] = defaultdict(set)
        self._queue_size = queue_size

    async def publish(self, channel: str, message: Message) -> None:
        for queue in list(self._queues.get(channel, ())):
            with contextlib.suppress(asyncio.QueueFull):
                # A subscriber that cannot keep up loses messages rather than stalling others.
                queue.put_nowait(message)

    async def subscribe(self, channel: str) -> AsyncIterator[Message]:
        queue: asyncio.Queue[Message] = asyncio.Queue(self._queue_size)
        self._queues[channel].add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues[channel].discard(queue)

    async def close(self) -> None:
        self._queues.clear()


class RedisBus:
    def __init__(self, client: aioredis.Redis, prefix: str = "interviewday:") -> None:
        self._client = client
        self._prefix = prefix

    async def publish(self, channel: str, message: Message) -> None:
        await self._client.publish(self._prefix + channel, json.dumps(message))

    async def subscribe(self, channel: str) -> AsyncIterator[Message]:
        pubsub = self._client.pubsub()
        await pubsub.subscribe(self._prefix + channel)
        try:
            async for raw in pubsub.listen():
                if raw.get("type") == "message":
                    yield json.loads(raw["data"])
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def close(self) -> None:
        await self._client.aclose()
