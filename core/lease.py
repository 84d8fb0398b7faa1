"""Leases: exactly one holder of a name at a time (one ticker per session across nodes).

`LocalLeases` is for one node (every acquire succeeds for its one owner); `RedisLeases` uses
`SET NX PX` and compare-and-set scripts, so a node that stops renewing loses the lease when it
expires and another node can take it.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_STEAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) and 1 or 0
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Leases(Protocol):
    async def acquire(self, name: str, owner: str, ttl_ms: int) -> bool: ...

    async def renew(self, name: str, owner: str, ttl_ms: int) -> bool: ...

    async def release(self, name: str, owner: str) -> None: ...

    async def steal(self, name: str, dead_owner: str, owner: str, ttl_ms: int) -> bool:
        """Takes the lease from `dead_owner` only if it still holds it (compare and set)."""
        ...

    async def holder(self, name: str) -> str | None: ...


class LocalLeases:
    def __init__(self) -> None:
        self._held: dict[str, str] = {}

    async def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        return self._held.setdefault(name, owner) == owner

    async def renew(self, name: str, owner: str, ttl_ms: int) -> bool:
        return self._held.get(name) == owner

    async def release(self, name: str, owner: str) -> None:
        if self._held.get(name) == owner:
            del self._held[name]

    async def steal(self, name: str, dead_owner: str, owner: str, ttl_ms: int) -> bool:
        if self._held.get(name) != dead_owner:
            return False
        self._held[name] = owner
        return True

    async def holder(self, name: str) -> str | None:
        return self._held.get(name)


class RedisLeases:
    def __init__(self, client: aioredis.Redis, prefix: str = "interviewday:lease:") -> None:
        self._client = client
        self._prefix = prefix

    async def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        key = self._prefix + name
        if await self._client.set(key, owner, nx=True, px=ttl_ms):
            return True
        return await self.renew(name, owner, ttl_ms)

    async def renew(self, name: str, owner: str, ttl_ms: int) -> bool:
        result = await self._client.eval(_RENEW, 1, self._prefix + name, owner, ttl_ms)
        return bool(result)

    async def release(self, name: str, owner: str) -> None:
        await self._client.eval(_RELEASE, 1, self._prefix + name, owner)

    async def steal(self, name: str, dead_owner: str, owner: str, ttl_ms: int) -> bool:
        key = self._prefix + name
        return bool(await self._client.eval(_STEAL, 1, key, dead_owner, owner, ttl_ms))

    async def holder(self, name: str) -> str | None:
        value = await self._client.get(self._prefix + name)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)
