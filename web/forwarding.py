"""Any node takes any request: what belongs to a scope another node owns is carried to it.

- REST calls and pages that read a session's live state (its day, its presence, its
  placement) are marked with `owned_by`; on another node than the owner they are forwarded
  inside the cluster, signed (web/cluster.py), and the owner's answer is returned as it came.
- A socket.io connection names its scope in the URL (`/socket.io/?scope=…`); on another node
  than the owner the websocket is relayed message by message to the owner. Media never passes
  here: the owner's SFU gives the client its own ICE candidates.
- When the owner refuses connections (killed), this node takes the scope over and serves the
  request itself: a client never sees the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
from aiohttp import WSMsgType, web

from core.errors import AppError, Forbidden, ValidationFailed
from core.nodes import NodeInfo
from signaling.server import MAX_MESSAGE_BYTES
from web.client_address import client_address
from web.cluster import (
    CLIENT_HEADER,
    CLUSTER_HEADER,
    TAKE_PATH,
    TARGET_HEADER,
    Cluster,
    NotTaken,
    ScopeMoved,
    verify,
)
from web.keys import CLUSTER, CLUSTER_CLIENT

log = logging.getLogger("interviewday.cluster")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])
OWNED_ATTRIBUTE = "_interviewday_owned_by"
SOCKET_PATH = "/socket.io/"
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Host",
        "Content-Length",
        CLUSTER_HEADER,
        CLIENT_HEADER,
        TARGET_HEADER,
    )
)
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=2)


class MisdirectedRequest(AppError):
    status = 421
    code = "wrong_node"


class OwnerUnavailable(AppError):
    status = 503
    code = "owner_unavailable"


def owned_by(parameter: str, prefix: str = "") -> Callable[[H], H]:
    """Marks a handler whose answer depends on the live state of the scope
    `prefix + match_info[parameter]`: it runs on that scope's owner."""

    def mark(handler: H) -> H:
        setattr(handler, OWNED_ATTRIBUTE, (parameter, prefix))
        return handler

    return mark


SCOPE_PATTERN = re.compile(r"(meeting:)?[0-9a-f]{1,64}")
"""A session id, or `meeting:` and a meeting room's id (core/ids.py makes hex ids). Anything
else is no scope: it is served here and refused there as any bad request would be, and never
becomes a lease or a key another node is asked to take."""


def valid_scope(value: str | None) -> str | None:
    return value if value is not None and SCOPE_PATTERN.fullmatch(value) else None


def scope_of(request: web.Request) -> str | None:
    if request.path == SOCKET_PATH:
        return valid_scope(request.query.get("scope"))
    marked = getattr(request.match_info.handler, OWNED_ATTRIBUTE, None)
    if marked is None:
        return None
    parameter, prefix = marked
    value = request.match_info.get(parameter)
    return valid_scope(f"{prefix}{value}") if value else None


@web.middleware
async def forwarding_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    cluster = request.app.get(CLUSTER)
    if cluster is None or not cluster.shared:
        return await handler(request)
    forwarded_by = _check_signature(request, cluster)
    if request.path == SOCKET_PATH and cluster.draining and forwarded_by is None:
        # A socket opened here now would be cut when this node exits: the client retries and
        # the proxy, which sees /readyz failing, sends it to another node.
        raise OwnerUnavailable("This server is shutting down: reconnecting elsewhere.")
    scope = scope_of(request)
    if scope is None:
        return await handler(request)
    for _ in range(3):
        try:
            owner = await cluster.owner(scope)
        except NotTaken:
            raise OwnerUnavailable("This session is moving between servers: try again.") from None
        if owner.local:
            try:
                return await handler(request)
            except ScopeMoved:
                if forwarded_by is not None:
                    raise MisdirectedRequest("This server no longer holds that session.") from None
                continue  # it moved on the way: look again, and forward
        if forwarded_by is not None:
            # Forwarded here as the owner, but the scope moved meanwhile: the sender looks again.
            raise MisdirectedRequest("This server does not hold that session (any more).")
        assert owner.node is not None
        try:
            if request.path == SOCKET_PATH:
                return await relay_socket(request, cluster, owner.node)
            return await forward(request, cluster, owner.node)
        except aiohttp.ClientConnectorError:
            log.warning("owner %s of %s refuses connections", owner.node.instance, scope)
            await cluster.owner_unreachable(scope, owner.node)
        except Misdirected:
            continue
    raise OwnerUnavailable("This session is moving between servers: try again.")


def _check_signature(request: web.Request, cluster: Cluster) -> str | None:
    header = request.headers.get(CLUSTER_HEADER)
    if header is None:
        return None
    client = request.headers.get(CLIENT_HEADER, "")
    # Wall time, as the sender signed it: nodes keep their clocks in sync (NTP).
    sender = verify(cluster.secret, header, time.time(), request.method, request.path_qs, client)
    if sender is None:
        raise Forbidden("Not a request from this cluster.", code="bad_cluster_signature")
    target = request.headers.get(TARGET_HEADER)
    if target is not None and target != cluster.instance:
        # The node at this address restarted: the one the sender meant is gone.
        raise MisdirectedRequest("That node is gone; this is another process.")
    request[CLUSTER_CLIENT] = client
    return sender


class Misdirected(Exception):
    """The owner answered 421: it is not the owner any more; look again."""


async def forward(request: web.Request, cluster: Cluster, node: NodeInfo) -> web.StreamResponse:
    assert cluster.http is not None
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers.update(cluster.signed_headers(request.method, request.path_qs, client_address(request)))
    headers[TARGET_HEADER] = node.instance
    body = await request.read() if request.can_read_body else None
    async with cluster.http.request(
        request.method,
        node.address + request.path_qs,
        headers=headers,
        data=body,
        allow_redirects=False,
        timeout=FORWARD_TIMEOUT,
    ) as upstream:
        if upstream.status == 421:
            raise Misdirected
        payload = await upstream.read()
        response = web.Response(status=upstream.status, body=payload)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-encoding":
                response.headers.add(name, value)
        return response


async def relay_socket(
    request: web.Request, cluster: Cluster, node: NodeInfo
) -> web.StreamResponse:
    """Relays one websocket to the owner; either side closing closes the other, so a client
    whose owner died reconnects (and lands on the new owner)."""
    assert cluster.http is not None
    headers = cluster.signed_headers(request.method, request.path_qs, client_address(request))
    headers[TARGET_HEADER] = node.instance
    try:
        upstream = await cluster.http.ws_connect(
            node.address + request.path_qs,
            headers=headers,
            max_msg_size=MAX_MESSAGE_BYTES + 1024,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2),
        )
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status == 421:
            raise Misdirected from None
        raise OwnerUnavailable("This session's server did not accept the connection.") from None
    client = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES + 1024)
    await client.prepare(request)
    relays = request.app[RELAYS]
    relays.add(client)
    try:
        await _pump_both(client, upstream)
    finally:
        relays.discard(client)
        await upstream.close()
        await client.close()
    return client


async def _pump(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)


async def _pump_both(
    client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> None:
    tasks = [
        asyncio.ensure_future(_pump(client, upstream)),
        asyncio.ensure_future(_pump(upstream, client)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task


RELAYS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("relays")
"""The websockets this node relays to owners elsewhere (closed when it drains)."""


async def take_scope(request: web.Request) -> web.Response:
    """`POST /_cluster/take?scope=…`: another node asks this one to own a scope (placement, or
    a draining node handing its sessions over). Only signed requests from the cluster."""
    cluster = request.app.get(CLUSTER)
    if cluster is None or request.get(CLUSTER_CLIENT) is None:
        raise Forbidden("Only nodes of this cluster may ask that.", code="bad_cluster_signature")
    scope = valid_scope(request.query.get("scope"))
    if scope is None:
        raise ValidationFailed("Name a session or meeting room to take.", field="scope")
    try:
        await cluster.take(scope)
    except NotTaken as exc:
        return web.json_response(
            {"error": {"code": "not_taken", "message": str(exc), "field": None}}, status=409
        )
    return web.json_response({"instance": cluster.instance, "scope": scope})


def add_cluster_routes(app: web.Application) -> None:
    app[RELAYS] = set()
    app.router.add_post(TAKE_PATH, take_scope)
