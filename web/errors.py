"""Turns errors into what the client can act on: JSON for the API, a page for people."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from core.errors import AppError
from web.input_guard import check_request_head, form_read_before_handler, read_page_form

log = logging.getLogger("interviewday.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def error_response(request: web.Request, exc: AppError) -> web.StreamResponse:
    if wants_json(request):
        return web.json_response(exc.body(), status=exc.status)
    from web.render import render

    return render(request, "error.html", {"error": exc, "status": exc.status}, status=exc.status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        check_request_head(request)
        if form_read_before_handler(request):
            await read_page_form(request)
        return await handler(request)
    except AppError as exc:
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status >= 400 and wants_json(request):
            code = "not_found" if exc.status == 404 else exc.reason.lower().replace(" ", "_")
            return web.json_response(
                {"error": {"code": code, "message": exc.reason, "field": None}}, status=exc.status
            )
        raise
    except Exception:
        # Logged with its traceback for the operator; the client only learns that it failed.
        log.exception("unhandled error on %s %s", request.method, request.path[:200])
        err = AppError("Something went wrong on our side. It has been logged.", code="internal")
        err.status = 500
        return error_response(request, err)
