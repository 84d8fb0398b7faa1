"""Who is asking: the session cookie becomes an `Identity` on the request; CSRF is checked here.

CSRF: every state-changing request made with the session cookie must carry the session's token,
in the `X-CSRF-Token` header (API, htmx) or a `csrf_token` form field (plain forms).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from core.errors import Forbidden
from portal.permissions import Actor

COOKIE_NAME = "interviewday_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reachable without a session, so they carry no session token to check.
CSRF_EXEMPT = frozenset({"/login", "/api/v1/auth/login", "/a/request-link"})


@dataclass(frozen=True)
class Identity:
    actor: Actor
    csrf_token: str
    cookie_value: str
    session_id: str


IDENTITY = web.RequestKey("identity", Identity)
# Answered without looking at the cookie: nothing there depends on who asks.
NO_IDENTITY_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def current(request: web.Request) -> Identity | None:
    return request.get(IDENTITY)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_session_middleware(
    resolve: Callable[[str], Awaitable[Identity | None]],
) -> Middleware:
    @web.middleware
    async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        cookie_value = request.cookies.get(COOKIE_NAME)
        # socket.io authenticates with its join token, not the cookie.
        skip = request.path.startswith(("/static/", "/socket.io/")) or (
            request.path in NO_IDENTITY_PATHS
        )
        if cookie_value and not skip:
            identity = await resolve(cookie_value)
            if identity is not None:
                request[IDENTITY] = identity
                if request.method not in SAFE_METHODS and request.path not in CSRF_EXEMPT:
                    await _check_csrf(request, identity.csrf_token)
        return await handler(request)

    return session_middleware


async def _check_csrf(request: web.Request, expected: str) -> None:
    supplied = request.headers.get("X-CSRF-Token")
    if supplied is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("csrf_token")
        supplied = value if isinstance(value, str) else None
    if not supplied or not hmac.compare_digest(supplied, expected):
        raise Forbidden(
            "This request is missing its security token. Reload the page and try again.",
            code="csrf",
        )


def origin_allowed(origin: str | None, host: str, public_url: str, *, allow_null: bool) -> bool:
    """A request without `Origin` passes (not a browser's cross-site request, which always
    sends one on POST); otherwise the origin must be this server, as configured
    (`public_url`) or as addressed (`Host`)."""
    if origin is None:
        return True
    if origin == "null":
        return allow_null
    parts = urlsplit(origin)
    public = urlsplit(public_url)
    if (parts.scheme, parts.netloc) == (public.scheme, public.netloc):
        return True
    return parts.scheme in ("http", "https") and parts.netloc == host


def set_session_cookie(
    response: web.StreamResponse, value: str, *, secure: bool, max_age: int
) -> None:
    response.set_cookie(
        COOKIE_NAME, value, httponly=True, samesite="Lax", secure=secure, max_age=max_age, path="/"
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE_NAME, path="/")
