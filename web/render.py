"""Rendering pages: every template gets who is asking and the CSRF token."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from web.session import current


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    identity = current(request)
    base = {
        "identity": identity,
        "actor": identity.actor if identity else None,
        "csrf_token": identity.csrf_token if identity else "",
        "path": request.path,
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
