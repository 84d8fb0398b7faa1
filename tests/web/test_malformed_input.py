"""Whatever a careless or hostile client sends, the answer is a 4xx in the error shape.

One test per way in: encodings, nesting, numbers beyond 64 bits, bounds, media types,
multipart uploads, control characters, path parameters, query strings, page forms, long URLs
and headers (through the `serve` runner's parser limits), and an unexpected exception (a 500
that names no internal detail).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.settings import Settings
from portal.models import Applicant
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB

BOUNDARY = "----fuzzboundary"
SESSION = {
    "name": "Hostile day",
    "date": "2027-02-01",
    "start_time": "09:00:00",
    "timezone": "America/Chicago",
}


async def problem(response: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert "Traceback" not in text
    error = await error_of(response)
    assert error["code"] == code, error
    return error


def truncated_multipart(field: str, filename: str, content: bytes) -> bytes:
    whole = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + content
    return whole  # no closing boundary: the upload was cut off


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


# Bodies ------------------------------------------------------------------------------------


async def test_a_non_utf8_login_body_is_400_even_anonymously(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.post(
        "/api/v1/auth/login",
        data=b'{"email": "\xff\xfe@a.test", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    await problem(response, 400, "bad_encoding")


async def test_deep_nesting_is_refused_before_parsing(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    deep = b"[" * 3000 + b"]" * 3000
    anonymous = await client.post(
        "/api/v1/auth/login", data=deep, headers={"Content-Type": "application/json"}
    )
    await problem(anonymous, 400, "too_deep")
    csrf = await login(client, world.a.director_email)
    nested = '{"a": ' * 3000 + '"x"' + "}" * 3000
    body = json.dumps(SESSION)[:-1].encode() + b', "name": ' + nested.encode() + b"}"
    sessions = await client.post(
        "/api/v1/sessions",
        data=body,
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
    )
    await problem(sessions, 400, "too_deep")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"name": "x", "capacity": ' + str(2**70).encode() + b"}", "number_out_of_range"),
        (b'{"capacity": 1' + b"0" * 5000 + b"}", "number_out_of_range"),
        (b'{"capacity": 1e999}', "number_out_of_range"),
        (b'{"capacity": NaN}', "bad_json"),
        (b'{"name": ', "bad_json"),
        (b"\xef\xbb\xbf{}", "bad_json"),
    ],
)
async def test_numbers_and_syntax_json_cannot_carry(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    raw: bytes,
    code: str,
) -> None:
    csrf = await login(client, world.a.director_email)
    response = await client.post(
        "/api/v1/sessions",
        data=raw,
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
    )
    await problem(response, 400, code)


async def test_bounds_on_numbers(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf}
    for field, value in (("capacity", 10_001), ("capacity", 2**40), ("rounds", 101)):
        response = await client.post(
            "/api/v1/sessions", json={**SESSION, field: value}, headers=headers
        )
        assert (await problem(response, 422, "invalid"))["field"] == field
    a = world.a
    for revision in (-1, 2**31, 2**40):
        response = await client.put(
            f"/api/v1/sessions/{a.session_id}/applicants/{a.applicant_id}/score",
            json={"answers": {}, "revision": revision},
            headers=headers,
        )
        assert (await problem(response, 422, "invalid"))["field"] == "revision"
    too_big = await client.put(
        f"/api/v1/sessions/{a.session_id}/applicants/{a.applicant_id}/score",
        data=json.dumps({"answers": {}, "revision": 2**70}),
        headers={**headers, "Content-Type": "application/json"},
    )
    await problem(too_big, 400, "number_out_of_range")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": str(2**70)}, "page"),
        ({"page": "1000001"}, "page"),
        ({"page": "0"}, "page"),
        ({"page_size": "-1"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": str(10**9)}, "page_size"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_paging_is_bounded(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    query: dict[str, str],
    field: str,
) -> None:
    await login(client, world.a.director_email)
    response = await client.get("/api/v1/applicants", params=query)
    assert (await problem(response, 422, "invalid"))["field"] == field


async def test_the_applicants_page_clamps_a_huge_page_number(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    await login(client, world.a.director_email)
    response = await client.get("/applicants", params={"page": str(2**70)})
    assert response.status == 200


async def test_media_type_and_shape(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf}
    plain = await client.post(
        "/api/v1/sessions",
        data=json.dumps(SESSION),
        headers={**headers, "Content-Type": "text/plain"},
    )
    await problem(plain, 415, "unsupported_media_type")
    listed = await client.post("/api/v1/sessions", json=[SESSION], headers=headers)
    await problem(listed, 422, "invalid")
    scalar = await client.post("/api/v1/sessions", json="name", headers=headers)
    await problem(scalar, 422, "invalid")
    huge = await client.post(
        "/api/v1/sessions",
        data=b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    await problem(huge, 413, "too_large")


# Strings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Room\x00 1", "Tab\x0bbed", "Bell\x07", "C1\x85x", "\ud800"])
async def test_control_characters_in_names_are_refused(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    name: str,
) -> None:
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    body = json.dumps({**SESSION, "name": name})  # \ud800 travels as a JSON escape
    session = await client.post("/api/v1/sessions", data=body, headers=headers)
    assert (await problem(session, 422, "invalid"))["field"] == "name"
    staff = await client.post(
        "/api/v1/staff",
        data=json.dumps({"name": name, "email": "new@a.test", "role": "interviewer"}),
        headers=headers,
    )
    assert (await problem(staff, 422, "invalid"))["field"] == "name"


async def test_a_csv_with_a_nul_names_the_line_and_imports_nothing(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    csrf = await login(client, world.a.director_email)
    async with client.app[DB]() as db:
        before = len((await db.execute(Applicant.__table__.select())).all())
    csv = "name,email\nGood Person,good@x.org\nBad\x00Person,bad@x.org\n"
    response = await client.post(
        "/api/v1/applicants/import",
        data=csv.encode(),
        headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"},
    )
    text = await response.text()
    assert response.status == 422, text
    assert "3" in text and "U+0000" in text, text  # line 3, the character named
    async with client.app[DB]() as db:
        after = len((await db.execute(Applicant.__table__.select())).all())
    assert after == before


# Multipart ---------------------------------------------------------------------------------


async def test_truncated_multipart_uploads_are_400(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    csrf = await login(client, world.a.director_email)
    headers = {**MULTIPART, "X-CSRF-Token": csrf}
    cut_csv = truncated_multipart("file", "people.csv", b"name,email\nA,a@x.org\n")
    imported = await client.post("/api/v1/applicants/import", data=cut_csv, headers=headers)
    await problem(imported, 400, "bad_body")
    staff = await client.post("/api/v1/staff/import", data=cut_csv, headers=headers)
    await problem(staff, 400, "bad_body")
    cut_pdf = truncated_multipart("file", "a.pdf", b"%PDF-1.7\n" + b"0" * 1000)
    pdf = await client.put(
        f"/api/v1/applicants/{world.a.applicant_id}/pdf/full", data=cut_pdf, headers=headers
    )
    await problem(pdf, 400, "bad_body")
    no_boundary = await client.post(
        "/api/v1/applicants/import",
        data=cut_csv,
        headers={"Content-Type": "multipart/form-data", "X-CSRF-Token": csrf},
    )
    await problem(no_boundary, 400, "bad_body")


async def test_page_forms_that_cannot_be_read_are_400_pages(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    csrf = await login(client, world.a.director_email)
    cases = [
        # a truncated CSV upload with its token in the form (the browser's way)
        (
            "/applicants/import",
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'.encode()
            + csrf.encode()
            + b"\r\n"
            + truncated_multipart("file", "people.csv", b"name,email\n"),
            MULTIPART["Content-Type"],
        ),
        ("/sessions/new", b"csrf_token=" + csrf.encode() + b"&name=\xff\xfe", None),
        ("/sessions/new", f"csrf_token={csrf}&name=a%00b".encode(), None),
    ]
    for path, body, content_type in cases:
        response = await client.post(
            path,
            data=body,
            headers={"Content-Type": content_type or "application/x-www-form-urlencoded"},
            allow_redirects=False,
        )
        text = await response.text()
        assert response.status == 400, (path, text[:300])
        assert "text/html" in response.headers["Content-Type"]
        assert "Traceback" not in text


# URLs, path parameters, query strings, headers ---------------------------------------------


async def test_bad_path_parameters_are_404(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    await login(client, world.a.director_email)
    for path in ("/api/v1/sessions/%00", "/api/v1/sessions/" + "x" * 300, "/api/v1/sessions/%FF"):
        await problem(await client.get(path), 404, "not_found")
    page = await client.get("/applicants/a%00b")
    assert page.status == 404 and "text/html" in page.headers["Content-Type"]


async def test_control_characters_in_query_strings_are_400(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    await login(client, world.a.director_email)
    await problem(await client.get("/api/v1/applicants?q=a%00b"), 400, "bad_query")
    page = await client.get("/applicants?q=a%00b")
    assert page.status == 400 and "text/html" in page.headers["Content-Type"]
    # bytes that are not UTF-8 are read as U+FFFD, which is text like any other
    assert (await client.get("/api/v1/applicants?q=%FF%FE")).status == 200


async def test_long_urls_and_headers_answer_in_the_error_shape_under_serve(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the runner options `interviewday serve` uses, on a real socket."""
    from web.app import create_app
    from web.input_guard import PARSER_LIMITS, quiet_protocol_errors

    quiet_protocol_errors()  # as `serve` does
    runner = web.AppRunner(create_app(settings), **PARSER_LIMITS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/api/v1/sessions?q=" + "x" * 9000, "/sessions?q=" + "x" * 9000):
                async with http.get(base + path, headers={"Accept": "application/json"}) as got:
                    assert got.status == 414
                    assert (await got.json())["error"]["code"] == "uri_too_long"
            async with http.get(base + "/api/v1/auth/me", headers={"X-Big": "y" * 9000}) as got:
                assert got.status == 431
                assert (await got.json())["error"]["code"] == "header_too_large"
            async with http.get(base + "/api/v1/auth/me") as got:
                assert got.status == 401  # ordinary requests are untouched
            # Beyond the parser's own limit aiohttp answers a plain 400 itself, and the log
            # holds one line, not a traceback.
            async with http.get(base + "/api/v1/" + "x" * 70_000) as got:
                assert got.status == 400
    finally:
        await runner.cleanup()
    refused = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert refused and all(r.exc_info is None for r in refused)
    assert all(r.levelname == "WARNING" for r in refused)


# Unexpected errors -------------------------------------------------------------------------


async def test_an_unexpected_exception_is_a_bare_500(
    aiohttp_client: Any, settings: Settings
) -> None:
    from web.app import create_app

    app = create_app(settings)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app.router.add_get("/api/v1/broken", broken)
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    api = await client.get("/api/v1/broken")
    text = await api.text()
    assert api.status == 500 and "secret" not in text and "Traceback" not in text
    assert (await error_of(api))["code"] == "internal"
    page = await client.get("/broken", headers={"Accept": "text/html"})
    text = await page.text()
    assert page.status == 500 and "secret" not in text and "Traceback" not in text


# PostgreSQL refuses NUL in text and numbers beyond its column types: none may reach it -----


async def test_nothing_hostile_reaches_the_database(
    aiohttp_client: Any, db_url: str, tmp_path: Path
) -> None:
    from tests.conftest import make_settings
    from tests.factories import build_world
    from web.app import create_app

    client = await aiohttp_client(create_app(make_settings(db_url, tmp_path)))
    world = await build_world(client.app[DB])
    a = world.a
    csrf = await login(client, a.director_email)
    headers = {"X-CSRF-Token": csrf}
    await problem(await client.get("/api/v1/sessions/a%00b"), 404, "not_found")
    await problem(await client.get("/api/v1/applicants?q=%00"), 400, "bad_query")
    await problem(await client.get("/api/v1/applicants?session_id=%00"), 400, "bad_query")
    named = await client.post(
        "/api/v1/sessions", json={**SESSION, "name": "a\x00b"}, headers=headers
    )
    await problem(named, 422, "invalid")
    ids = await client.post(
        "/api/v1/applicants/status",
        json={"applicant_ids": ["a\x00b"], "status": "invited"},
        headers=headers,
    )
    assert (await problem(ids, 422, "invalid"))["field"] == "applicant_ids.0"
    csv = await client.post(
        "/api/v1/applicants/import",
        data=b"name,email\nA\x00B,ab@x.org\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert csv.status == 422, await csv.text()
    revision = await client.put(
        f"/api/v1/sessions/{a.session_id}/applicants/{a.applicant_id}/score",
        json={"answers": {}, "revision": 2**31},
        headers=headers,
    )
    await problem(revision, 422, "invalid")
    last_page = await client.get(
        "/api/v1/applicants", params={"page": "1000000", "page_size": "500"}
    )
    assert last_page.status == 200 and await last_page.json() == []
    page = await client.post(
        "/sessions/new",
        data=f"csrf_token={csrf}&name=a%00b".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status == 400
