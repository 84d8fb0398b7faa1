"""Overload: a request that cannot get a database connection (or a password worker) in time is
answered 503 with `Retry-After`, in the error shape, instead of waiting half a minute.

Two bounds, both `INTERVIEWDAY_DB_POOL_TIMEOUT` (5 s by default):
- admission: at most a pool's worth of requests work at once; the others wait their turn in a
  plain FIFO (cheaper than hundreds of waiters on the connection pool, and fairer), and after
  the timeout are answered 503. Health checks, metrics, static files and sockets skip it.
- the engine's `pool_timeout`, for whatever still finds the pool empty (background jobs share
  it); SQLAlchemy's pool `TimeoutError` becomes the same 503, and so does SQLite's writer
  waiting longer than that for its turn (`core.sqlite.WriterTurnTimeout`).
Both middlewares sit inside `error_middleware`, which would otherwise log a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.errors import AppError
from core.security import PasswordPoolBusy
from core.sqlite import WriterTurnTimeout
from portal.auth import LoginsBusy
from web.errors import error_response

log = logging.getLogger("interviewday.overload")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RETRY_AFTER_SECONDS = 2


class Overloaded(AppError):
    status = 503
    code = "overloaded"


def overloaded_response(request: web.Request) -> web.StreamResponse:
    error = Overloaded("The server is busy. Try again in a few seconds.")
    response = error_response(request, error)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@web.middleware
async def overload_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (PoolTimeout, WriterTurnTimeout):
        log.warning("no database connection in time for %s %s", request.method, request.path)
        return overloaded_response(request)
    except (PasswordPoolBusy, LoginsBusy):
        log.warning("logins saturated for %s %s", request.method, request.path)
        return overloaded_response(request)


# Answered without the database, so never made to wait behind requests that need it.
UNADMITTED_PREFIXES = ("/static/", "/socket.io/", "/healthz", "/metrics")


def make_admission_middleware(
    limit: int, wait_seconds: float, exempt: frozenset[str] = frozenset()
) -> Middleware:
    """`exempt`: paths bounded by a gate of their own (logins, which spend most of their time
    on a password check holding no connection, and must not hold a slot meanwhile)."""
    slots = asyncio.Semaphore(limit)

    @web.middleware
    async def admission_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(UNADMITTED_PREFIXES) or request.path in exempt:
            return await handler(request)
        try:
            async with asyncio.timeout(wait_seconds):
                await slots.acquire()
        except TimeoutError:
            log.warning("not admitted in %.1f s: %s %s", wait_seconds, request.method, request.path)
            return overloaded_response(request)
        try:
            return await handler(request)
        finally:
            slots.release()

    return admission_middleware
