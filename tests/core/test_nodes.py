"""The node registry and placement by load (pure choice; the registry on a real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from core.lease import LocalLeases, RedisLeases
from core.nodes import LocalNodes, NodeInfo, RedisNodes, choose_node, new_instance_id


def node(instance: str, **load: object) -> NodeInfo:
    return NodeInfo(instance, instance.split("-")[0], f"http://{instance}:8080", **load)  # type: ignore[arg-type]


def test_the_least_loaded_node_that_takes_sessions_is_chosen() -> None:
    busy = node("a-1", participants=40, sessions=4)
    idle = node("b-1", participants=2, sessions=1)
    draining = node("c-1", draining=True)
    assert choose_node([busy, idle, draining]) == idle
    assert choose_node([busy, draining]) == busy
    assert choose_node([draining]) is None
    assert choose_node([busy, idle], exclude=["b-1"]) == busy
    # CPU counts too, and ties go to the lowest instance id (every node makes the same choice).
    assert choose_node([node("a-1", cpu=1.5), node("b-1")]).instance == "b-1"  # type: ignore[union-attr]
    assert choose_node([node("b-2"), node("a-2")]).instance == "a-2"  # type: ignore[union-attr]


def test_instance_ids_are_new_for_every_process() -> None:
    first, second = new_instance_id("node-1"), new_instance_id("node-1")
    assert first != second and first.startswith("node-1-")


def test_node_info_survives_json_and_garbage_is_ignored() -> None:
    info = node("a-1", participants=3, sessions=1, cpu=0.25, draining=True)
    assert NodeInfo.from_json(info.to_json()) == info
    assert NodeInfo.from_json("not json") is None
    assert NodeInfo.from_json('{"instance": "x"}') is None


async def test_a_lone_node_is_the_whole_cluster() -> None:
    nodes = LocalNodes()
    me = node("a-1")
    await nodes.announce(me)
    assert await nodes.live() == [me] and await nodes.get("a-1") == me
    assert await nodes.get("b-1") is None


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_redis_registry_lists_live_nodes_and_forgets_gone_ones(
    redis: aioredis.Redis,
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:node:"
    nodes = RedisNodes(redis, prefix=prefix)
    a, b = node("a-1", participants=1), node("b-1")
    await nodes.announce(a)
    await nodes.announce(b)
    assert {n.instance for n in await nodes.live()} == {"a-1", "b-1"}
    assert await nodes.get("a-1") == a
    await redis.delete(prefix + "b-1")  # its heartbeat expired
    assert [n.instance for n in await nodes.live()] == ["a-1"]
    assert await redis.smembers(prefix + "index") == {b"a-1"}
    await nodes.remove("a-1")
    assert await nodes.live() == []


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_a_lease_is_taken_from_a_dead_owner_only_if_it_still_holds_it(
    kind: str, redis_url: str
) -> None:
    client = aioredis.from_url(redis_url)
    leases = LocalLeases() if kind == "local" else RedisLeases(client, f"test:{uuid.uuid4().hex}:")
    try:
        assert await leases.acquire("s", "dead-1", 60_000)
        assert not await leases.acquire("s", "alive-1", 60_000)
        assert not await leases.steal("s", "someone-else", "alive-1", 60_000)
        assert await leases.steal("s", "dead-1", "alive-1", 60_000)
        assert await leases.holder("s") == "alive-1"
        assert not await leases.renew("s", "dead-1", 60_000)  # the old owner finds out
        assert not await leases.steal("s", "dead-1", "third-1", 60_000)
    finally:
        await client.aclose()
