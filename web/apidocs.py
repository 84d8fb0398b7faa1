"""The REST reference in docs/protocol.md, generated from the declared endpoints.

`python -m web.apidocs` rewrites the section between the markers; a test fails when the file
and the code disagree, so the reference cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from web.api.framework import Api
from web.api.jsonbody import MAX_DEPTH
from web.api.openapi import path_parameters
from web.api.routes import build_api
from web.input_guard import MAX_HEADER_BYTES, MAX_PATH_PARAM_CHARS, MAX_URL_BYTES

BEGIN = "<!-- BEGIN GENERATED REST REFERENCE -->"
END = "<!-- END GENERATED REST REFERENCE -->"
PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"


def _model_name(model: Any) -> str:
    if model is None:
        return "—"
    args = getattr(model, "__args__", None)
    if args:  # list[Model]
        return f"`[{args[0].__name__}]`"
    return f"`{model.__name__}`"


def limits() -> list[str]:
    """What every request must respect, from the constants that enforce it."""
    return [
        "Limits (each refused in the error shape): a JSON body is `application/json` (415),",
        f"UTF-8, nested at most {MAX_DEPTH} deep, with integers within 64 bits and finite",
        "numbers (400); every field is bounded as its schema says, and text fields refuse",
        "control characters (422); a URL is at most "
        f"{MAX_URL_BYTES // 1024} KB (414), a header line at most {MAX_HEADER_BYTES // 1024} KB",
        f"(431); a path parameter over {MAX_PATH_PARAM_CHARS} characters or holding a control",
        "character is 404; a query value holding one is 400; a truncated or garbled multipart",
        "upload is 400.",
    ]


def reference(api: Api) -> str:
    lines = [
        BEGIN,
        "",
        "Every endpoint, generated from the code (`python -m web.apidocs`). Request and response",
        "models are defined field by field in `GET /api/openapi.json` under `components.schemas`.",
        "",
        *limits(),
        "",
        "| method | path | who | body | answer | what |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for endpoint in sorted(api.endpoints, key=lambda e: (e.path, e.method)):
        who = (
            endpoint.permission
            or {
                "public": "anyone",
                "any": "logged in (staff or applicant)",
                "applicant": "applicant",
                "staff": "staff",
            }[endpoint.auth]
        )
        answer = _model_name(endpoint.response)
        if endpoint.response is None:
            answer = "204 / file"
        lines.append(
            # The OpenAPI spelling ({fmt}, not {fmt:csv|pdf}): a "|" would split the table cell.
            f"| {endpoint.method} | `{path_parameters(api.prefix + endpoint.path)[0]}` | {who} | "
            f"{_model_name(endpoint.body)} | {answer} | {endpoint.summary} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def updated(text: str, api: Api) -> str:
    generated = reference(api)
    if BEGIN in text and END in text:
        before = text.split(BEGIN)[0]
        after = text.split(END, 1)[1]
        return before + generated + after
    return text.rstrip() + "\n\n## REST reference\n\n" + generated + "\n"


def main() -> int:
    text = PROTOCOL.read_text()
    PROTOCOL.write_text(updated(text, build_api()))
    print(f"updated {PROTOCOL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
