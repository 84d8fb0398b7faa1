"""The first line of defence against requests nobody's browser would send.

`error_middleware` runs these before any handler, so every route (API and pages, whoever wrote
them) answers a hostile URL, header, query or form with a 4xx in the error shape:

- a URL over 8 KB is 414, a header line over 8 KB is 431 (the `serve` runner lets aiohttp's
  parser read up to `PARSER_LIMITS`, so these arrive here instead of as plain-text protocol
  errors);
- a path parameter that cannot be an id or name (too long, control characters) is 404;
- a query value with a control character is 400;
- a page form that is not UTF-8, is truncated or garbled, or holds control characters is 400.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

from core.errors import AppError, NotFound
from core.textcheck import control_problem

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 8 * 1024
MAX_PATH_PARAM_CHARS = 200
PARSER_LIMITS: dict[str, Any] = {"max_line_size": 64 * 1024, "max_field_size": 64 * 1024}
"""aiohttp's own limits, set above ours so that our JSON errors answer first; anything beyond
these still gets aiohttp's plain 400 (the connection is closed, no handler runs)."""
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_ERRORS = (ValueError, LookupError, AssertionError, Warning)
"""What aiohttp raises on a body it cannot read: bad UTF-8 (ValueError), an unknown charset
(LookupError), a non-multipart body read as multipart (AssertionError), a truncated or garbled
multipart (ValueError) and its BadContentDispositionHeader (a warning, raised when warnings are
errors, as in the tests)."""


class UriTooLong(AppError):
    status = 414
    code = "uri_too_long"


class HeaderTooLarge(AppError):
    status = 431
    code = "header_too_large"


def check_request_head(request: web.Request) -> None:
    """Refuses a URL, header, path parameter or query no real client sends."""
    if len(request.raw_path) > MAX_URL_BYTES:
        raise UriTooLong(f"The URL is longer than {MAX_URL_BYTES // 1024} KB.")
    for name, value in request.raw_headers:
        if len(name) + len(value) > MAX_HEADER_BYTES:
            raise HeaderTooLarge(
                f"A request header is longer than {MAX_HEADER_BYTES // 1024} KB.",
                field=name.decode("latin-1")[:100],
            )
    for param in request.match_info.values():
        if len(param) > MAX_PATH_PARAM_CHARS or control_problem(param):
            raise NotFound("No such page or record.")
    for key, query_value in request.query.items():
        if control_problem(key) or control_problem(query_value, multiline=True):
            raise AppError(
                "The query string holds a control character.", field=key[:100], code="bad_query"
            )


@contextlib.contextmanager
def unreadable_body_is_400(what: str = "form") -> Iterator[None]:
    """Maps aiohttp's errors on a malformed body read inside the block to a 400."""
    try:
        yield
    except BODY_ERRORS:
        raise AppError(
            f"The {what} could not be read: it is truncated, garbled or not UTF-8.",
            code="bad_body",
        ) from None


async def read_page_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The parsed form (aiohttp caches it for the handler's own `request.post()`)."""
    with unreadable_body_is_400():
        form = await request.post()
    for key, value in form.items():
        if isinstance(value, str) and (
            control_problem(key) or control_problem(value, multiline=True)
        ):
            raise AppError("The form holds a control character.", field=key[:100], code="bad_form")
    return form


def form_read_before_handler(request: web.Request) -> bool:
    """Whether a form body will be parsed before the handler runs: a browser form post to a
    page, or an API form post whose CSRF token the session middleware must look for in the
    form. API uploads that send the X-CSRF-Token header are streamed by their handler."""
    if request.method not in UNSAFE_METHODS or request.content_type not in FORM_TYPES:
        return False
    if not request.path.startswith("/api/"):
        return True
    return "X-CSRF-Token" not in request.headers and bool(request.cookies)


class QuietProtocolErrors(logging.Filter):
    """Logs a request aiohttp's parser refused (a line over PARSER_LIMITS, a bad method,
    garbage that is not HTTP) as one warning line instead of a traceback: the client's
    fault, not the server's, and cheap for anyone to provoke."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            error = record.exc_info[1]
            record.msg = "refused a malformed request (%s): %s"
            record.args = (type(error).__name__, str(error.message)[:200])
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def quiet_protocol_errors() -> None:
    """Installs QuietProtocolErrors on aiohttp's server logger (once)."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, QuietProtocolErrors) for f in server_log.filters):
        server_log.addFilter(QuietProtocolErrors())
