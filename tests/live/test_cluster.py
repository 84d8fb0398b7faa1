"""Any node takes any request (in process: two nodes, one database, a real Redis).

A session lives on the node that owns it; calls and sockets that reach the other node are
forwarded or relayed to it, and a node that finds the owner dead takes the session over.
The same on real processes behind a real proxy, with kill -9: tests/cluster/.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.clock import FakeClock
from core.nodes import NodeInfo
from signaling.bot import LiveBot
from signaling.grants import issue_join_token
from tests.conftest import make_settings
from tests.factories import PASSWORD, World
from tests.live.conftest import Day, grant
from tests.live.test_timetrack_live import two_rounds
from tests.services import free_port
from tests.utils import wait_for
from web.app import create_app
from web.cluster import CLIENT_HEADER, CLUSTER_HEADER, lease_name, sign
from web.daytrack import DAYS
from web.keys import CLUSTER, TOKENS

pytestmark = pytest.mark.redis


async def start_nodes(
    aiohttp_server: Any,
    sqlite_url: str,
    tmp_path: Path,
    redis_url: str,
    clock: FakeClock,
    node_ids: tuple[str, ...],
) -> list[Any]:
    """Nodes on one database and a Redis namespace of their own (no other test's nodes),
    each registered before anything is placed."""
    servers = []
    namespace = f"test-{uuid.uuid4().hex}"
    for node_id in node_ids:
        port = free_port()
        settings = make_settings(
            sqlite_url,
            tmp_path,
            redis_url=redis_url,
            redis_namespace=namespace,
            node_id=node_id,
            internal_url=f"http://127.0.0.1:{port}",
        )
        app = create_app(settings, clock=clock)
        servers.append(await aiohttp_server(app, host="127.0.0.1", port=port))
    for server in servers:
        await server.app[CLUSTER].heartbeat()
    return servers


@pytest.fixture
async def nodes(
    aiohttp_server: Any, sqlite_url: str, tmp_path: Path, redis_url: str, clock: FakeClock
) -> list[Any]:
    return await start_nodes(
        aiohttp_server, sqlite_url, tmp_path, redis_url, clock, ("node-a", "node-b")
    )


def base(server: Any) -> str:
    return str(server.make_url("/")).rstrip("/")


async def logged_in(server: Any, email: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(base(server), cookie_jar=aiohttp.CookieJar(unsafe=True))
    response = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return http, str((await response.json())["csrf_token"])


def owner_and_other(nodes: list[Any], session_id: str) -> tuple[Any, Any]:
    first, second = nodes
    return (first, second) if session_id in first.app[CLUSTER].owned else (second, first)


async def test_the_day_answers_the_same_through_either_node(
    nodes: list[Any], world: World, day: Day
) -> None:
    await two_rounds(nodes[0].app, world, day)
    path = f"/api/v1/sessions/{day.session_id}/day"
    sessions = [await logged_in(node, world.a.coordinator_email) for node in nodes]
    try:
        answers = []
        for http, _ in sessions:
            response = await http.get(path)
            assert response.status == 200, await response.text()
            answers.append(await response.json())
        owner, other = owner_and_other(nodes, day.session_id)
        # One runner, on the owner; the other node forwarded.
        assert day.session_id in owner.app[DAYS].runners
        assert day.session_id not in other.app[DAYS].runners
        assert answers[0]["day"]["session_id"] == answers[1]["day"]["session_id"]

        # A command sent to the node that does not own the session runs on the owner.
        index = nodes.index(other)
        http, csrf = sessions[index]
        response = await http.post(
            f"{path}/commands", json={"kind": "start"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["ok"] is True
        assert owner.app[DAYS].runners[day.session_id].state.started
        # The applicant's live page (its placement) is answered by the owner too.
        page = await http.get(f"/live/sessions/{day.session_id}")
        assert page.status == 200
    finally:
        for http, _ in sessions:
            await http.close()


async def test_a_socket_on_the_other_node_is_relayed_to_the_owner(
    nodes: list[Any], world: World, day: Day, video_clips: Any, audio_clip: Any
) -> None:
    owner_of = await nodes[0].app[CLUSTER].owner(day.session_id)
    owner, other = (nodes[0], nodes[1]) if owner_of.local else (nodes[1], nodes[0])
    interviewer = LiveBot(
        url=base(owner),
        token=issue_join_token(owner.app[TOKENS], grant(world, day, "interviewer1")),
        video=video_clips["a"],
        audio=audio_clip,
        scope=day.session_id,
    )
    applicant = LiveBot(
        url=base(other),
        token=issue_join_token(other.app[TOKENS], grant(world, day, "applicant")),
        video=video_clips["b"],
        audio=audio_clip,
        scope=day.session_id,
    )
    try:
        await interviewer.connect()
        await applicant.connect()
        # Both peer connections are on the owner's SFU; none on the other node's.
        hub_owner = owner.app[CLUSTER]
        assert day.session_id in hub_owner.owned
        started = time.monotonic()
        await wait_for(lambda: applicant.frames_from(interviewer.participant_id, started) > 3, 15)
        await wait_for(lambda: interviewer.frames_from(applicant.participant_id, started) > 3, 15)
    finally:
        await applicant.close()
        await interviewer.close()


async def test_a_socket_without_the_scope_on_the_wrong_node_is_refused_to_retry(
    nodes: list[Any], world: World, day: Day, video_clips: Any, audio_clip: Any
) -> None:
    owner_of = await nodes[0].app[CLUSTER].owner(day.session_id)
    other = nodes[1] if owner_of.local else nodes[0]
    bot = LiveBot(
        url=base(other),
        token=issue_join_token(other.app[TOKENS], grant(world, day, "applicant")),
        video=video_clips["b"],
        audio=audio_clip,
    )
    from signaling.bot import BotError

    try:
        with pytest.raises(BotError) as info:
            await bot.connect()
        assert info.value.code == "wrong_node"
    finally:
        await bot.close()


async def test_a_dead_owners_session_is_taken_over_by_the_node_that_needs_it(
    nodes: list[Any], world: World, day: Day
) -> None:
    first, second = nodes
    await two_rounds(first.app, world, day)
    cluster_a, cluster_b = first.app[CLUSTER], second.app[CLUSTER]
    # A process that died without a word: it holds the lease, its heartbeat is gone.
    ghost = "node-x-deadbeef"
    await cluster_a.leases.acquire(lease_name(day.session_id), ghost, 60_000)
    owner = await cluster_b.owner(day.session_id)
    assert owner.local and day.session_id in cluster_b.owned
    assert await cluster_b.leases.holder(lease_name(day.session_id)) == cluster_b.instance

    # Its heartbeat still there but its port closed: the node forwarding finds out and takes over.
    await cluster_b.release(day.session_id)
    await cluster_a.leases.acquire(lease_name(day.session_id), ghost, 60_000)
    dead = NodeInfo(ghost, "node-x", f"http://127.0.0.1:{free_port()}")
    await cluster_a.nodes.announce(dead)
    http, _ = await logged_in(first, world.a.coordinator_email)
    try:
        response = await http.get(f"/api/v1/sessions/{day.session_id}/day")
        assert response.status == 200, await response.text()
    finally:
        await http.close()
        await cluster_a.nodes.remove(ghost)
    assert day.session_id in cluster_a.owned


async def test_forged_cluster_headers_are_refused(nodes: list[Any], world: World, day: Day) -> None:
    first, _ = nodes
    path = f"/api/v1/sessions/{day.session_id}/day"
    async with aiohttp.ClientSession(base(first)) as http:
        forged = {CLUSTER_HEADER: "node-z;1;00", CLIENT_HEADER: "203.0.113.9"}
        response = await http.get(path, headers=forged)
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "bad_cluster_signature"
        wrong_key = sign("not-the-secret", "node-z", time.time(), "GET", path, "203.0.113.9")
        response = await http.get(
            path, headers={CLUSTER_HEADER: wrong_key, CLIENT_HEADER: "203.0.113.9"}
        )
        assert response.status == 403
        stale = sign(
            first.app[CLUSTER].secret, "node-z", time.time() - 120, "GET", path, "203.0.113.9"
        )
        response = await http.get(
            path, headers={CLUSTER_HEADER: stale, CLIENT_HEADER: "203.0.113.9"}
        )
        assert response.status == 403
        response = await http.post(f"/_cluster/take?scope={day.session_id}")
        assert response.status == 403


async def test_two_processes_with_the_same_node_id_never_both_own_a_session(
    aiohttp_server: Any, sqlite_url: str, tmp_path: Path, redis_url: str, clock: FakeClock, day: Day
) -> None:
    # Two processes started with the same NODE_ID: the operator's mistake the issue found.
    servers = await start_nodes(
        aiohttp_server, sqlite_url, tmp_path, redis_url, clock, ("node-1", "node-1")
    )
    clusters = [s.app[CLUSTER] for s in servers]
    assert clusters[0].instance != clusters[1].instance
    answers = [await c.owner(day.session_id) for c in clusters]
    assert sorted(a.local for a in answers) == [False, True]
    owner = next(c for c, a in zip(clusters, answers, strict=True) if a.local)
    other = next(c for c in clusters if c is not owner)
    await other.leave()  # one shutting down must not free the other's session
    assert await owner.leases.holder(lease_name(day.session_id)) == owner.instance


async def test_a_malformed_scope_is_no_scope(nodes: list[Any], world: World, day: Day) -> None:
    """A scope that is not an id is never placed, leased or sent to another node."""
    first, _ = nodes
    async with aiohttp.ClientSession(base(first)) as http:
        response = await http.get("/socket.io/?scope=a%26b%3Cx&EIO=4&transport=polling")
        assert response.status < 500
        path = "/_cluster/take?scope=a%26b"
        signed = first.app[CLUSTER].signed_headers("POST", path, "")
        response = await http.post(path, headers={**signed, "Accept": "application/json"})
        assert response.status == 422
        assert (await response.json())["error"]["field"] == "scope"
    for node in nodes:
        assert node.app[CLUSTER].owned == set()
