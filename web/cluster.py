"""Who owns a scope (a session or a meeting room) across nodes, and placing it by load.

A scope's owner is the one process whose SFU holds its participants' peer connections and, for
a session, whose runner ticks its day. Ownership is a lease (`scope:<scope>`) held under the
process's instance id and renewed with every heartbeat. When nobody owns a scope, the node that
needs it asks the least loaded live node to take it (`POST /_cluster/take`); when the owner's
heartbeat has stopped, or it refuses connections, the lease is taken from it (compare and set),
and the day's fencing token (timetrack/store.py) makes sure the old owner can write nothing
more, should it still be alive.

On one node (no Redis) every scope is local and nothing here talks to anybody.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from core.errors import Conflict
from core.lease import Leases
from core.nodes import NodeInfo, NodeRegistry, choose_node, with_load

log = logging.getLogger("interviewday.cluster")

LEASE_MS = 6000
"""An owner that stops renewing loses its scopes after this (its heartbeat key goes at 4 s)."""
CLUSTER_HEADER = "X-Interviewday-Cluster"
CLIENT_HEADER = "X-Interviewday-Client"
TARGET_HEADER = "X-Interviewday-Instance"
SIGNATURE_SECONDS = 30.0
TAKE_PATH = "/_cluster/take"


def lease_name(scope: str) -> str:
    return f"scope:{scope}"


def sign(secret: str, instance: str, at: float, method: str, path: str, client: str) -> str:
    """The header a node puts on what it forwards: only nodes sharing the secret key can say
    who the client is."""
    stamp = f"{instance};{at:.3f}"
    message = f"{stamp};{method.upper()};{path};{client}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{stamp};{digest}"


def verify(secret: str, header: str, now: float, method: str, path: str, client: str) -> str | None:
    """The forwarding node's instance id if `header` is a fresh, valid signature, else None."""
    parts = header.split(";")
    if len(parts) != 3:
        return None
    instance, at_text, _ = parts
    try:
        at = float(at_text)
    except ValueError:
        return None
    if abs(now - at) > SIGNATURE_SECONDS:
        return None
    expected = sign(secret, instance, at, method, path, client)
    return instance if hmac.compare_digest(expected, header) else None


@dataclass(frozen=True)
class Owner:
    """Where a scope lives: here (`node` None) or on another node."""

    node: NodeInfo | None = None

    @property
    def local(self) -> bool:
        return self.node is None


HERE = Owner()


class ScopeMoved(Conflict):
    """Raised inside a handler that found its scope owned by another node after all (it moved
    while the request was on its way); the forwarding layer sends the request on to the new
    owner, so a client never sees it."""

    code = "session_elsewhere"


class NotTaken(Exception):
    """The node asked to take a scope could not (draining, or someone else holds it)."""


@dataclass
class CpuMeter:
    """The process's CPU use between two readings, in cores."""

    last_wall: float = field(default_factory=time.monotonic)
    last_cpu: float = field(default_factory=time.process_time)

    def read(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        spent = (cpu - self.last_cpu) / max(wall - self.last_wall, 1e-3)
        self.last_wall, self.last_cpu = wall, cpu
        return max(spent, 0.0)


ScopeHook = Callable[[str], Awaitable[None]]


@dataclass
class Cluster:
    me: NodeInfo
    leases: Leases
    nodes: NodeRegistry
    secret: str
    shared: bool
    """False on one node: every scope is here, no lease or registry is consulted."""
    owned: set[str] = field(default_factory=set)
    draining: bool = False
    load: Callable[[], tuple[int, int]] = lambda: (0, 0)
    """(sessions, participants) on this node, for the heartbeat."""
    on_taken: ScopeHook | None = None
    """Runs when this node becomes a scope's owner (a session's day is resumed from the DB)."""
    on_lost: ScopeHook | None = None
    """Runs when this node stops owning a scope (lease lost, handed over, released)."""
    events: Callable[[str], None] = lambda event: None
    """Counts lease events for /metrics: acquired, stolen, lost, handed_over, released."""
    http: aiohttp.ClientSession | None = None
    cpu: CpuMeter = field(default_factory=CpuMeter)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        return self.me.instance

    # --- ownership -----------------------------------------------------------------------

    async def owner(self, scope: str) -> Owner:
        """Where `scope` lives now: a scope nobody owns is placed (by load) and a dead owner's
        scope is taken over, so the answer is a live node."""
        if not self.shared or scope in self.owned:
            return HERE
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            for _ in range(3):
                holder = await self.leases.holder(lease_name(scope))
                if holder == self.instance:
                    await self._became_owner(scope, "acquired")
                    return HERE
                if holder is not None:
                    node = await self.nodes.get(holder)
                    if node is not None:
                        return Owner(node)
                    # Its heartbeat stopped: the process is gone (or cut off, and fenced out).
                    if await self.take_from(scope, holder):
                        return HERE
                    continue
                placed = await self._place(scope)
                if placed is not None:
                    return placed
        raise NotTaken(f"could not settle who owns {scope}")

    async def _place(self, scope: str) -> Owner | None:
        # A draining node places nothing on itself.
        exclude = [self.instance] if self.draining else []
        target = choose_node(await self.nodes.live(), exclude=exclude)
        if target is None or target.instance == self.instance:
            return HERE if await self.acquire(scope) else None
        try:
            await self.ask_to_take(target, scope)
        except NotTaken:
            return None  # someone else got there first: look again
        except (aiohttp.ClientError, TimeoutError):
            log.warning("node %s did not take %s; taking it here", target.instance, scope)
            return HERE if await self.acquire(scope) else None
        return Owner(target)

    async def acquire(self, scope: str) -> bool:
        if not await self.leases.acquire(lease_name(scope), self.instance, LEASE_MS):
            return False
        await self._became_owner(scope, "acquired")
        return True

    async def take_from(self, scope: str, dead: str) -> bool:
        """Takes `scope` from an owner found dead (no heartbeat, or it refuses connections)."""
        if not await self.leases.steal(lease_name(scope), dead, self.instance, LEASE_MS):
            return False
        log.warning("took %s over from %s, which stopped answering", scope, dead)
        await self._became_owner(scope, "stolen")
        return True

    async def owner_unreachable(self, scope: str, node: NodeInfo) -> None:
        """A forward to `node` failed to connect: it is gone; take its scope here."""
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            await self.take_from(scope, node.instance)

    async def _became_owner(self, scope: str, event: str) -> None:
        if scope in self.owned:
            return
        if self.on_taken is not None:
            try:
                await self.on_taken(scope)
            except Exception:
                log.exception("taking %s failed", scope)
        # Only now: a request that finds the scope owned here must find its day running too
        # (requests that come meanwhile wait on the scope's lock).
        self.owned.add(scope)
        self.events(event)
        log.info("%s now owns %s (%s)", self.instance, scope, event)

    async def _lose(self, scope: str, event: str) -> None:
        if scope not in self.owned:
            return
        self.owned.discard(scope)
        self.events(event)
        log.info("%s no longer owns %s (%s)", self.instance, scope, event)
        if self.on_lost is not None:
            try:
                await self.on_lost(scope)
            except Exception:
                log.exception("letting go of %s failed", scope)

    async def release(self, scope: str) -> None:
        await self._lose(scope, "released")
        await self.leases.release(lease_name(scope), self.instance)

    async def forget(self, scope: str) -> None:
        """Stops owning `scope` here after another node claimed it (a fenced-out write)."""
        await self._lose(scope, "lost")

    # --- asking another node -------------------------------------------------------------

    def signed_headers(self, method: str, path: str, client: str) -> dict[str, str]:
        at = time.time()
        return {
            CLUSTER_HEADER: sign(self.secret, self.instance, at, method, path, client),
            CLIENT_HEADER: client,
        }

    async def ask_to_take(self, node: NodeInfo, scope: str) -> None:
        assert self.http is not None
        path = f"{TAKE_PATH}?scope={scope}"
        headers = {**self.signed_headers("POST", path, ""), TARGET_HEADER: node.instance}
        timeout = aiohttp.ClientTimeout(total=5)
        async with self.http.post(node.address + path, headers=headers, timeout=timeout) as resp:
            if resp.status != 200:
                raise NotTaken(f"{node.instance} answered {resp.status}")

    async def take(self, scope: str) -> None:
        """This node was asked to own `scope` (placement or a draining node's hand-over)."""
        if self.draining:
            raise NotTaken("this node is draining")
        if scope in self.owned:
            return
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            if not await self.acquire(scope):
                raise NotTaken("another node owns it")

    # --- heartbeat, renewal, drain -------------------------------------------------------

    async def heartbeat(self) -> None:
        sessions, participants = self.load()
        self.me = with_load(
            self.me,
            sessions=sessions,
            participants=participants,
            cpu=self.cpu.read(),
            draining=self.draining,
        )
        await self.nodes.announce(self.me)
        for scope in list(self.owned):
            if not await self.leases.renew(lease_name(scope), self.instance, LEASE_MS):
                log.warning("%s lost the lease of %s", self.instance, scope)
                await self._lose(scope, "lost")

    async def drain(self) -> int:
        """Hands every owned scope to the least loaded other node; returns how many moved.

        Each scope is let go here first (its runner stops with the day saved, its sockets are
        closed so clients reconnect), then the other node is asked to take it; a client that
        reconnects before that finds the scope unowned and places it the same way."""
        self.draining = True
        await self.heartbeat()
        moved = 0
        for scope in sorted(self.owned):
            target = choose_node(await self.nodes.live(), exclude=[self.instance])
            if target is None:
                log.warning("draining with no other node: %s stays until exit", scope)
                continue
            # Under the scope's lock: a request arriving meanwhile must not adopt the scope
            # again here (the lease is still ours until released); it waits and then finds
            # the new owner.
            async with self._locks.setdefault(scope, asyncio.Lock()):
                await self._lose(scope, "handed_over")
                await self.leases.release(lease_name(scope), self.instance)
                try:
                    await self.ask_to_take(target, scope)
                except (NotTaken, aiohttp.ClientError, TimeoutError) as exc:
                    log.warning("hand-over of %s to %s failed (%s)", scope, target.instance, exc)
            moved += 1
        return moved

    async def leave(self) -> None:
        for scope in list(self.owned):
            await self.release(scope)
        with contextlib.suppress(Exception):
            await self.nodes.remove(self.instance)


def node_info(node_id: str, instance: str, address: str) -> NodeInfo:
    return NodeInfo(instance, node_id, address, started_at=time.time())
