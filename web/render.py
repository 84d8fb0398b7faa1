"""Rendering pages: every template gets who is asking, the CSRF token and `safe_url`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from web.session import current

WEB_SCHEMES = frozenset({"http", "https"})


def safe_url(value: object) -> str | None:
    """The URL when it is a web link (http(s) with a host, or a path on this site), else None.

    Autoescaping keeps markup out of an href, but not `javascript:` or `data:`: every URL that
    came from a person goes through here before it becomes a link. Whitespace, control
    characters and backslashes are refused outright, since browsers drop or reinterpret them
    before looking at the scheme.
    """
    if not isinstance(value, str) or not value:
        return None
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in value):
        return None
    if value.startswith("/"):
        return None if value.startswith("//") else value
    parts = urlsplit(value)
    if parts.scheme.lower() in WEB_SCHEMES and parts.netloc:
        return value
    return None


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    identity = current(request)
    base = {
        "identity": identity,
        "actor": identity.actor if identity else None,
        "csrf_token": identity.csrf_token if identity else "",
        "path": request.path,
        "safe_url": safe_url,
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
