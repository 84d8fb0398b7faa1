"""Who is asking: the session cookie becomes an `Identity` on the request; CSRF is checked here.

CSRF: every state-changing request made with the session cookie must carry the session's token,
in the `X-CSRF-Token` header (API, htmx) or a `csrf_token` form field (plain forms).
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class _Cached:
    identity: Identity
    session_expires_at: datetime
    fresh_until: float


class IdentityCache:
    """Resolved sessions, kept a few seconds on this node so that a burst of reads by one person
    costs one session lookup, not one per request.

    Logout and role switches on this node drop the entry at once. Anything else (a logout or role
    switch on another node, a deactivation, a changed role) is seen within `ttl_seconds`: that is
    the price, and why the TTL is short. The session's own expiry is checked on every use."""

    def __init__(
        self,
        ttl_seconds: float = 5.0,
        max_entries: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, _Cached] = OrderedDict()

    def get(self, cookie_value: str, now: datetime) -> Identity | None:
        entry = self._entries.get(cookie_value)
        if entry is None:
            return None
        if entry.fresh_until <= self._monotonic() or entry.session_expires_at <= now:
            del self._entries[cookie_value]
            return None
        return entry.identity

    def put(self, identity: Identity, session_expires_at: datetime) -> None:
        fresh_until = self._monotonic() + self.ttl_seconds
        self._entries[identity.cookie_value] = _Cached(identity, session_expires_at, fresh_until)
        self._entries.move_to_end(identity.cookie_value)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, cookie_value: str) -> None:
        self._entries.pop(cookie_value, None)

    def __len__(self) -> int:
        return len(self._entries)


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
