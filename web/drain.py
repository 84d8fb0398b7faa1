"""`SIGTERM`: the node hands its sessions to the others before it exits.

The node says it is draining (its heartbeat, and `/readyz` answers 503, so the proxy stops
sending it new clients), hands every session and meeting room it owns to the least loaded other
node (the day is saved and resumed there at once, without waiting for a lease to expire),
closes the sockets it served or relayed so their clients reconnect through the proxy, then
exits as on `SIGINT`. On a lone node it simply exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import WSCloseCode, web

from web.forwarding import RELAYS
from web.keys import CLUSTER
from web.live import HUB

log = logging.getLogger("interviewday.cluster")
PROXY_GRACE_SECONDS = 1.5
"""Long enough for a proxy checking `/readyz` every second to stop sending us new clients."""


async def drain(app: web.Application) -> int:
    cluster = app[CLUSTER]
    started = time.monotonic()
    moved = await cluster.drain()
    sockets = app[RELAYS]
    relayed = list(sockets)
    for socket in relayed:
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server draining")
    log.info(
        "drained: %d sessions handed over, %d relayed sockets closed, in %.0f ms",
        moved,
        len(relayed),
        (time.monotonic() - started) * 1000,
    )
    return moved


async def drain_on_sigterm(app: web.Application) -> None:
    """An `on_startup` hook for `serve`: replaces aiohttp's SIGTERM handler with a drain."""
    loop = asyncio.get_running_loop()

    async def drain_then_exit() -> None:
        try:
            if app[CLUSTER].shared:
                await drain(app)
                await asyncio.sleep(PROXY_GRACE_SECONDS)
        finally:
            signal.raise_signal(signal.SIGINT)  # aiohttp's own graceful exit

    def on_sigterm() -> None:
        if not app[CLUSTER].draining:
            app[HUB].spawn(drain_then_exit())

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
