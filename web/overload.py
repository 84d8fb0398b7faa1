"""Overload: a request that cannot get a database connection (or a password worker) in time is
answered 503 with `Retry-After`, in the error shape, instead of waiting half a minute.

The bound on the wait is the engine's `pool_timeout` (`INTERVIEWDAY_DB_POOL_TIMEOUT`, 5 s by
default); SQLAlchemy then raises its pool `TimeoutError`, which this middleware turns into the
answer. It sits inside `error_middleware`, which would otherwise log it as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.errors import AppError
from core.security import PasswordPoolBusy
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
    except PoolTimeout:
        log.warning("no database connection in time for %s %s", request.method, request.path)
        return overloaded_response(request)
    except (PasswordPoolBusy, LoginsBusy):
        log.warning("logins saturated for %s %s", request.method, request.path)
        return overloaded_response(request)
