"""Reading a JSON request body that anyone on the internet may have written.

Every way a body can be wrong (not JSON at all, another media type, bytes that are not UTF-8,
nesting a thousand levels deep, a number with thousands of digits, `NaN`) ends in a 4xx error the
client can act on, never in an exception deeper in the stack.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from core.errors import AppError

MAX_BYTES = 2 * 1024 * 1024
"""Largest JSON body: ten times the biggest real one (a 10,000-applicant rank list)."""
MAX_DEPTH = 32
"""Deepest nesting of arrays/objects a body may have; the deepest real body has 4."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyTooLarge(AppError):
    status = 413
    code = "too_large"


def check_size(length: int | None) -> None:
    """Refuses a body over MAX_BYTES (by its Content-Length, before reading it)."""
    if length is not None and length > MAX_BYTES:
        raise BodyTooLarge(f"The request body is larger than {MAX_BYTES // (1024 * 1024)} MB.")


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


def is_json_media_type(content_type: str) -> bool:
    """application/json or any application/*+json (parameters such as charset ignored)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw`, brackets inside strings not counted.

    Checked before parsing so that no parser ever recurses on hostile input.
    """
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _int64(text: str) -> int:
    # Python's own limit (4300 digits) would raise a plain ValueError; no field needs more than
    # 64 bits, so anything longer is refused before it is even converted.
    if len(text.lstrip("-")) > 19:
        raise _OutOfRange(text)
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _OutOfRange(text)
    return value


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(text)
    return value


def _no_constant(text: str) -> float:
    raise _BadJson(f"{text} is not JSON")


class _OutOfRange(ValueError):
    pass


class _BadJson(ValueError):
    pass


def parse_json_body(raw: bytes, content_type: str) -> Any:
    """The parsed body, or an AppError saying what is wrong with it."""
    check_size(len(raw))
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AppError("The request body is not UTF-8 text.", code="bad_encoding") from None
    if nesting_depth(raw) > MAX_DEPTH:
        raise AppError(f"The request body nests deeper than {MAX_DEPTH} levels.", code="too_deep")
    try:
        return json.loads(text, parse_int=_int64, parse_float=_finite, parse_constant=_no_constant)
    except _OutOfRange:
        raise AppError(
            "A number in the request body is out of range (64-bit integers, finite numbers).",
            code="number_out_of_range",
        ) from None
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise AppError("The request body is not valid JSON.", code="bad_json") from None
