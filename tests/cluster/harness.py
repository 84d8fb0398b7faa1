"""Several real `interviewday serve` processes behind a real reverse proxy.

    async with topology(nodes=3, proxy="caddy") as cluster:
        async with cluster.client() as http:
            await http.get(f"{cluster.proxy_url}/readyz")
        await cluster.kill(0)

The nodes share a scratch PostgreSQL database beside `DATABASE_URL` (seeded with the demo
program: `interviewday demo`) and a Redis database index claimed for this topology on the
server `REDIS_URL` names. Each node listens on its own loopback port with its own node id
(node-1 …); the proxy (Debian's caddy or haproxy, configured from deploy/, see proxies.py)
listens on another and is the nodes' public URL. Logs go to files in a scratch folder that is
printed and kept when the block fails, removed when it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from tests import services
from tests.cluster import proxies
from tests.cluster.redis_claim import claimed_redis_database

ROOT = proxies.ROOT
CLI = ROOT / ".venv" / "bin" / "interviewday"
SECRET_KEY = "cluster-test-secret-key-0123456789abcdef"
START_SECONDS = 60
STOP_SECONDS = 10
CLUSTER_SETTINGS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "NODE_ID", "HOST", "PORT")


@dataclass(frozen=True)
class NodeInfo:
    index: int
    node_id: str
    port: int
    url: str
    internal_url: str
    pid: int | None  # None while the node is stopped
    log: Path


class Node:
    def __init__(self, index: int, port: int, env: dict[str, str], log: Path) -> None:
        self.index = index
        self.node_id = f"node-{index + 1}"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = spawn([str(CLI), "serve"], self.env, ROOT, self.log, self.node_id)

    def info(self) -> NodeInfo:
        running = self.process is not None and self.process.poll() is None
        pid = self.process.pid if running and self.process is not None else None
        return NodeInfo(self.index, self.node_id, self.port, self.url, self.url, pid, self.log)


def spawn(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path, name: str
) -> subprocess.Popen[bytes]:
    """Start without waiting (Popen returns once the process exists); output appends to `log`,
    so a restarted node's log keeps its earlier life."""
    with log.open("ab") as sink:
        sink.write(f"--- starting {name} at {time.strftime('%X')}\n".encode())
        sink.flush()
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=sink, stderr=sink)


def stable_port() -> int:
    """A free loopback port below the kernel's ephemeral range. services.free_port() hands out
    an ephemeral one, which any outgoing connection (there are many here) may take before the
    proxy binds it, or while a killed node is down and waiting to restart on it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return services.free_port()


def client_session(total_timeout: float = 30) -> aiohttp.ClientSession:
    # unsafe=True: the jar otherwise refuses cookies from an IP address such as 127.0.0.1.
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        timeout=aiohttp.ClientTimeout(total=total_timeout),
    )


async def _stop(process: subprocess.Popen[bytes], seconds: float = STOP_SECONDS) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        await asyncio.to_thread(process.wait, seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        await asyncio.to_thread(process.wait)


class Topology:
    def __init__(self, folder: Path, kind: str, database_url: str, redis_url: str) -> None:
        self.folder = folder
        self.proxy_kind = kind
        self.database_url = database_url
        self.redis_url = redis_url
        self.proxy_port = stable_port()
        self.proxy_url = f"http://127.0.0.1:{self.proxy_port}"
        self.proxy_log = folder / f"{kind}.log"
        self.proxy_process: subprocess.Popen[bytes] | None = None
        self._nodes: list[Node] = []

    # Nodes -------------------------------------------------------------------------------

    @property
    def nodes(self) -> list[NodeInfo]:
        return [node.info() for node in self._nodes]

    def node(self, index: int) -> NodeInfo:
        return self._nodes[index].info()

    async def kill(self, index: int, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send the signal and return at once (wait_exit waits for the end)."""
        process = self._nodes[index].process
        if process is not None and process.poll() is None:
            process.send_signal(sig)

    async def wait_exit(self, index: int, within: float = 30) -> int:
        process = self._nodes[index].process
        assert process is not None, f"node {index} was never started"
        return await asyncio.to_thread(process.wait, within)

    async def stop(self, index: int) -> None:
        """SIGTERM, then SIGKILL after STOP_SECONDS."""
        process = self._nodes[index].process
        if process is not None:
            await _stop(process)

    async def restart(self, index: int) -> None:
        """Stop the node if it still runs, start it again on the same port with the same node
        id, and wait until it is ready (not until the proxy sends it traffic again)."""
        await self.stop(index)
        node = self._nodes[index]
        node.start()
        await self.wait_ready(index)

    async def wait_ready(self, index: int, within: float = START_SECONDS) -> None:
        node = self._nodes[index]
        deadline = time.monotonic() + within
        async with client_session(total_timeout=2) as probe:
            while time.monotonic() < deadline:
                if node.process is None or node.process.poll() is not None:
                    raise RuntimeError(f"{node.node_id} exited:\n{_tail(node.log)}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with probe.get(f"{node.url}/readyz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{node.node_id} not ready within {within} s:\n{_tail(node.log)}")

    # Through the proxy -------------------------------------------------------------------

    async def nodes_reached(self, requests: int) -> Counter[str]:
        """Which node answered each of `requests` GET /readyz through the proxy (a status
        other than 200 counts under its number, e.g. "502")."""
        reached: Counter[str] = Counter()
        async with client_session() as http:
            for _ in range(requests):
                async with http.get(f"{self.proxy_url}/readyz") as response:
                    body: Any = await response.json(content_type=None) if response.ok else {}
                    reached[body.get("node", "?") if response.ok else str(response.status)] += 1
        return reached

    async def wait_in_rotation(self, node_ids: set[str], within: float = 20) -> None:
        """Poll /readyz through the proxy until every one of `node_ids` has answered."""
        seen: set[str] = set()
        deadline = time.monotonic() + within
        while not node_ids <= seen:
            if self.proxy_process is not None and self.proxy_process.poll() is not None:
                raise RuntimeError(f"{self.proxy_kind} exited:\n{_tail(self.proxy_log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"only {sorted(seen)} of {sorted(node_ids)} reached")
            # Until the proxy listens, connecting fails: that is waited out too.
            with contextlib.suppress(aiohttp.ClientConnectionError):
                seen |= set(await self.nodes_reached(len(self._nodes)))
            await asyncio.sleep(0.1)

    def client(self) -> aiohttp.ClientSession:
        return client_session()

    async def login(self, http: aiohttp.ClientSession, email: str, base: str = "") -> Any:
        """Log in through the proxy (or `base`) as a browser would; returns the `me` body."""
        base = base or self.proxy_url
        async with http.post(
            f"{base}/api/v1/auth/login",
            json={"email": email, "password": DEMO_PASSWORD},
            headers={"Origin": self.proxy_url},
        ) as response:
            body = await response.json(content_type=None)
            assert response.status == 200, f"login failed: {response.status} {body}"
            return body

    # Database ----------------------------------------------------------------------------

    async def admin_execute(self, statement: str, *args: object) -> list[Any]:
        """Run one statement on the scratch database; rows as asyncpg Records."""
        connection = await _connect(self.database_url)
        try:
            return list(await connection.fetch(statement, *args))
        finally:
            await connection.close()

    # Logs --------------------------------------------------------------------------------

    def logs(self) -> str:
        parts = []
        for path in [self.proxy_log, *(node.log for node in self._nodes)]:
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"===== {path.name} =====\n{text}")
        return "\n".join(parts)

    # Start and stop ----------------------------------------------------------------------

    def _node_env(self, index: int, port: int, extra: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERVIEWDAY_")}
        url = f"http://127.0.0.1:{port}"
        env.update(
            {
                "INTERVIEWDAY_DATABASE_URL": self.database_url,
                "INTERVIEWDAY_REDIS_URL": self.redis_url,
                "INTERVIEWDAY_SECRET_KEY": SECRET_KEY,
                "INTERVIEWDAY_NODE_ID": f"node-{index + 1}",
                "INTERVIEWDAY_HOST": "127.0.0.1",
                "INTERVIEWDAY_PORT": str(port),
                "INTERVIEWDAY_INTERNAL_URL": url,
                "INTERVIEWDAY_PUBLIC_URL": self.proxy_url,
                "INTERVIEWDAY_TRUSTED_PROXIES": "127.0.0.1",
                # Shared, as a volume would be: an upload on one node is read on another.
                "INTERVIEWDAY_VAR_DIR": str(self.folder / "var"),
            }
        )
        env.update(extra)
        return env

    async def _seed(self) -> None:
        env = self._node_env(0, 0, {})
        result = await asyncio.to_thread(
            subprocess.run, [str(CLI), "demo"], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"interviewday demo failed:\n{result.stdout}\n{result.stderr}")

    async def _start_nodes(self, count: int, extra: Mapping[str, str]) -> None:
        for index in range(count):
            port = stable_port()
            log = self.folder / f"node-{index + 1}.log"
            self._nodes.append(Node(index, port, self._node_env(index, port, extra), log))
        for node in self._nodes:
            node.start()
        await asyncio.gather(*(self.wait_ready(node.index) for node in self._nodes))

    async def _start_proxy(self, executable: str) -> None:
        upstreams = [f"127.0.0.1:{node.port}" for node in self._nodes]
        base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        launch = proxies.launch(
            self.proxy_kind,
            executable,
            self.folder / "proxy",
            self.proxy_port,
            upstreams,
            base_env,
        )
        check = await asyncio.to_thread(
            subprocess.run, launch.check, env=launch.env, capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"{self.proxy_kind} rejects its config:\n{check.stderr}")
        self.proxy_process = spawn(
            launch.argv, launch.env, self.folder, self.proxy_log, self.proxy_kind
        )
        await self.wait_in_rotation({node.node_id for node in self._nodes})

    async def _stop_all(self) -> None:
        if self.proxy_process is not None:
            await _stop(self.proxy_process)
        processes = [node.process for node in self._nodes if node.process is not None]
        await asyncio.gather(*(_stop(process) for process in processes))


DEMO_PASSWORD = "demo-password"  # web.demo.DEMO_PASSWORD, as the demo prints it


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def require_services(proxy: str) -> str:
    """The proxy's executable; skips (or, where CI requires it, fails) the test without it,
    PostgreSQL or the server's command."""
    if services.postgres_url() is None:
        services.missing("postgres", "PostgreSQL: set DATABASE_URL=postgresql://… to run")
    executable = proxies.binary(proxy)
    if executable is None:
        services.missing(proxy, f"{proxy}: install Debian's {proxy} (apt-get install {proxy})")
    if not CLI.exists():
        services.missing("interviewday", f"{CLI} missing: run `make install` first")
    assert executable is not None
    return executable


async def _connect(url: str) -> Any:
    import asyncpg  # type: ignore[import-untyped]

    return await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))


@contextlib.asynccontextmanager
async def _scratch_database() -> AsyncIterator[str]:
    admin = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    name = f"interviewday_cluster_{uuid.uuid4().hex[:10]}"
    connection = await _connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        connection = await _connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@contextlib.asynccontextmanager
async def topology(
    nodes: int = 3, proxy: str = "caddy", env: Mapping[str, str] | None = None
) -> AsyncIterator[Topology]:
    """N nodes behind `proxy` ("caddy" or "haproxy"); `env` adds or overrides node settings
    (INTERVIEWDAY_… names; the ones that make the cluster, CLUSTER_SETTINGS, are fixed)."""
    if proxy not in proxies.PROXIES:
        raise ValueError(f"unknown proxy {proxy!r}: use one of {proxies.PROXIES}")
    executable = require_services(proxy)
    extra = dict(env or {})
    fixed = {f"INTERVIEWDAY_{name}" for name in CLUSTER_SETTINGS} & set(extra)
    if fixed:
        raise ValueError(f"the topology sets {sorted(fixed)} itself")
    folder = Path(tempfile.mkdtemp(prefix=f"interviewday-cluster-{proxy}-"))
    failed = True
    try:
        with services.redis_server() as redis_server:
            async with (
                claimed_redis_database(redis_server) as redis_url,
                _scratch_database() as database_url,
            ):
                cluster = Topology(folder, proxy, database_url, redis_url)
                try:
                    await cluster._seed()
                    await cluster._start_nodes(nodes, extra)
                    await cluster._start_proxy(executable)
                    yield cluster
                    failed = False
                finally:
                    await cluster._stop_all()
                    if failed:
                        print(
                            f"\n[topology] logs kept in {folder}\n{cluster.logs()}", file=sys.stderr
                        )
    finally:
        if not failed:
            shutil.rmtree(folder, ignore_errors=True)
