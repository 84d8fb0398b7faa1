"""The test topology itself, behind each proxy: three real nodes on PostgreSQL and Redis, the
proxy from deploy/ in front; requests spread, sessions are shared, a dead node is stepped
around and a restarted one comes back."""

from __future__ import annotations

import signal

import pytest

from tests.cluster.harness import Topology, topology
from tests.cluster.proxies import (
    CADDYFILE,
    HAPROXY_CFG,
    RETRIES_BODIES,
    caddyfile_for_loopback,
    haproxy_for_loopback,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

NODE_IDS = {"node-1", "node-2", "node-3"}
ENGINE_IO = "/socket.io/?EIO=4&transport=websocket"


async def _requests_after_a_crash(cluster: Topology, count: int) -> list[int]:
    """Kill node-1 with SIGKILL, then send `count` requests in a row through the proxy with a
    session from before: switching role (a POST with a body) where the proxy can retry those
    (RETRIES_BODIES), else reading who is logged in (a GET)."""
    statuses = []
    async with cluster.client() as http:
        me = await cluster.login(http, "director@demo.test")
        headers = {"X-CSRF-Token": me["csrf_token"], "Origin": cluster.proxy_url}
        await cluster.kill(0, signal.SIGKILL)
        assert await cluster.wait_exit(0) == -signal.SIGKILL
        assert cluster.node(0).pid is None
        for i in range(count):
            if RETRIES_BODIES[cluster.proxy_kind] and i % 2 == 0:
                request = http.post(
                    f"{cluster.proxy_url}/api/v1/auth/role",
                    json={"role": "director"},
                    headers=headers,
                )
            else:
                request = http.get(f"{cluster.proxy_url}/api/v1/auth/me")
            async with request as response:
                statuses.append(response.status)
    return statuses


@pytest.mark.parametrize("proxy", ["caddy", "haproxy"])
async def test_three_nodes_behind_the_proxy(proxy: str) -> None:
    async with topology(nodes=3, proxy=proxy) as cluster:
        # Round robin: every node answers a share; nothing fails.
        reached = await cluster.nodes_reached(30)
        assert set(reached) == NODE_IDS, reached
        assert min(reached.values()) >= 5, reached

        async with cluster.client() as http:
            async with http.get(f"{cluster.proxy_url}/metrics") as response:
                assert response.status == 404, "the proxy must not serve /metrics"
            async with http.post(f"{cluster.proxy_url}/_cluster/take?scope=x") as response:
                assert response.status == 404, "the nodes' own calls stay inside the cluster"
            # WebSockets pass through: engine.io's open packet arrives over the upgrade.
            async with http.ws_connect(f"{cluster.proxy_url}{ENGINE_IO}") as socket:
                opened = await socket.receive(timeout=5)
                assert str(opened.data).startswith("0{"), opened
            me = await cluster.login(http, "director@demo.test")
            # The cookie from a login through the proxy works on every node directly.
            for node in cluster.nodes:
                async with http.get(f"{node.url}/api/v1/auth/me") as response:
                    assert response.status == 200, (node.node_id, await response.text())
                    assert (await response.json())["id"] == me["id"]
            # A login on one node works through the proxy, whichever node answers.
            other = cluster.client()
            async with other:
                await cluster.login(other, "coordinator@demo.test", base=cluster.node(2).url)
                for _ in range(6):
                    async with other.get(f"{cluster.proxy_url}/api/v1/auth/me") as response:
                        assert response.status == 200, await response.text()

        # Every request still answers: the proxy retries elsewhere and drops the dead node.
        assert await _requests_after_a_crash(cluster, 30) == [200] * 30
        reached = await cluster.nodes_reached(12)
        assert set(reached) == {"node-2", "node-3"}, reached

        await cluster.restart(0)
        await cluster.wait_in_rotation({"node-1"})
        rows = await cluster.admin_execute("SELECT count(*) AS staff FROM staff")
        assert rows[0]["staff"] >= 10


def test_the_shipped_files_keep_the_lines_the_topology_rewrites() -> None:
    caddyfile = caddyfile_for_loopback(CADDYFILE.read_text())
    assert "\tbind 127.0.0.1\n" in caddyfile
    haproxy = haproxy_for_loopback(HAPROXY_CFG.read_text(), 8000, ["127.0.0.1:8001"])
    assert "\tbind 127.0.0.1:8000\n" in haproxy
    assert "\tserver node-1 127.0.0.1:8001\n" in haproxy
    directives = "\n".join(line for line in haproxy.splitlines() if not line.startswith("#"))
    for gone in ("chroot", "daemon", "ssl crt", "redirect scheme https", "10.0.0.11"):
        assert gone not in directives
