"""Cross-cutting middlewares: metrics and security headers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web

from core.errors import AppError
from web.keys import METRICS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# What a page may load. Scripts only from our own files (no inline script, no event handler
# attributes, no eval); styles only from our stylesheets (style="" attributes are refused too;
# scripts still size things through element.style). Sockets may go to another node of the
# deployment (the join answer names it), media comes from the camera and the SFU's streams.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)

PERMISSIONS_POLICY = (
    "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Permissions-Policy": PERMISSIONS_POLICY,
}

# aiohttp would name itself and Python with their versions.
SERVER_NAME = "interviewday"


def add_security_headers(headers: MutableMapping[str, str]) -> None:
    """The headers every response carries; a handler's own value of one of them wins."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    headers["Server"] = SERVER_NAME


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except AppError as exc:
        # The error middleware (outside this one) turns it into a response with this status.
        status = exc.status
        raise
    finally:
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, name, str(status)).inc()
        metrics.latency.labels(request.method, name).observe(time.perf_counter() - started)


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        # Redirects, 404s and 405s raised by aiohttp itself become responses after this
        # middleware: they carry the headers too.
        add_security_headers(exc.headers)
        raise
    if not response.prepared:
        add_security_headers(response.headers)
    return response


async def stamp_prepared_response(request: web.Request, response: web.StreamResponse) -> None:
    """For `app.on_response_prepare`: a response sent before its handler returns (a websocket
    handshake, a streamed download) never comes back through the middleware unprepared; this
    gives it the same headers just before they go out."""
    add_security_headers(response.headers)
