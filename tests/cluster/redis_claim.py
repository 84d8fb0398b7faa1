"""A Redis database index of its own for one topology, on a shared Redis server.

Other tests use the index REDIS_URL names (usually 0); topologies take one of 7-14, so two
running at once (two terminals, two helpers) never flush each other's keys. The claim is a
key in the claimed database itself, set only if absent, with an expiry so a run that was
killed before its clean-up frees the index after a while.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

CANDIDATES = range(7, 15)
CLAIM_KEY = "interviewday:test-topology:claim"
CLAIM_SECONDS = 3600


def with_database(url: str, index: int) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{index}"))


@contextlib.asynccontextmanager
async def claimed_redis_database(server_url: str) -> AsyncIterator[str]:
    """Flushed when claimed and when given back."""
    from redis.asyncio import Redis

    owner = f"pid {os.getpid()}"
    for index in CANDIDATES:
        url = with_database(server_url, index)
        client = Redis.from_url(url)
        try:
            if await client.set(CLAIM_KEY, owner, nx=True, ex=CLAIM_SECONDS):
                break
        finally:
            await client.aclose()
    else:
        raise RuntimeError(f"every Redis database {CANDIDATES} is claimed by another topology")
    client = Redis.from_url(url)
    try:
        async with client.pipeline(transaction=True) as claim:
            claim.flushdb()
            claim.set(CLAIM_KEY, owner, ex=CLAIM_SECONDS)
            await claim.execute()
        yield url
    finally:
        with contextlib.suppress(Exception):
            await client.flushdb()
        await client.aclose()
