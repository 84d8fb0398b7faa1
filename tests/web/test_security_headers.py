"""Every response the middleware sees carries the security headers and a strict CSP."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import METRICS
from web.middleware import (
    CONTENT_SECURITY_POLICY,
    SERVER_NAME,
    add_security_headers,
    security_headers_middleware,
    stamp_prepared_response,
)

Client = TestClient  # type: ignore[type-arg]


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_protected(response: Any) -> None:
    headers = response.headers
    policy = directives(headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    for sources in policy.values():
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "camera=(self)" in headers["Permissions-Policy"]
    assert "microphone=(self)" in headers["Permissions-Policy"]
    assert "display-capture=(self)" in headers["Permissions-Policy"]
    assert headers.getall("Server") == [SERVER_NAME]


def test_the_policy_is_strict() -> None:
    policy = directives(CONTENT_SECURITY_POLICY)
    assert policy["default-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "ws:", "wss:"]
    assert "mediastream:" in policy["media-src"]


def test_a_handler_may_set_its_own_policy_but_never_the_server_name() -> None:
    headers = {"Content-Security-Policy": "default-src 'none'", "Server": "aiohttp/3 Python/3"}
    add_security_headers(headers)
    assert headers["Content-Security-Policy"] == "default-src 'none'"
    assert headers["Server"] == SERVER_NAME
    assert headers["X-Frame-Options"] == "SAMEORIGIN"


async def test_pages_static_files_and_errors_carry_the_headers(
    client: Client, world: World
) -> None:
    login_page = await client.get("/login")
    assert login_page.status == 200 and "text/html" in login_page.headers["Content-Type"]
    assert_protected(login_page)

    await login(client, world.a.director_email)
    dashboard = await client.get("/dashboard")
    assert dashboard.status == 200
    assert_protected(dashboard)
    assert "<script>" not in await dashboard.text()

    static = await client.get("/static/app.css")
    assert static.status == 200
    assert_protected(static)

    missing_page = await client.get("/no-such-page")
    assert missing_page.status == 404
    assert_protected(missing_page)

    missing_api = await client.get("/api/v1/no-such-thing")
    assert missing_api.status == 404
    await error_of(missing_api)
    assert_protected(missing_api)

    app_error = await client.get("/api/v1/applicants/does-not-exist")
    assert app_error.status == 404
    await error_of(app_error)
    assert_protected(app_error)

    app_error_page = await client.get("/applicants/does-not-exist")
    assert app_error_page.status == 404 and "text/html" in app_error_page.headers["Content-Type"]
    assert_protected(app_error_page)

    wrong_method = await client.put("/login")
    assert wrong_method.status == 405
    assert_protected(wrong_method)

    redirect = await client.get("/", allow_redirects=False)
    assert 300 <= redirect.status < 400
    assert_protected(redirect)


async def test_metrics_count_app_errors_with_their_real_status(
    client: Client, world: World
) -> None:
    await login(client, world.a.director_email)
    for _ in range(2):
        response = await client.get("/api/v1/applicants/does-not-exist")
        assert response.status == 404
    # Read from the app's registry: /metrics itself may sit behind a token.
    registry = client.app[METRICS].registry
    route = "/api/v1/applicants/{applicant_id}"

    def count(status: str) -> float | None:
        labels = {"method": "GET", "route": route, "status": status}
        return registry.get_sample_value("interviewday_http_requests_total", labels)

    assert count("404") == 2.0
    assert count("500") is None


async def test_responses_prepared_inside_the_handler_are_stamped(aiohttp_client: Any) -> None:
    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"chunk")
        return response

    app = web.Application(middlewares=[security_headers_middleware])
    app.on_response_prepare.append(stamp_prepared_response)
    app.router.add_get("/stream", streamed)
    client = await aiohttp_client(app)
    response = await client.get("/stream")
    assert await response.read() == b"chunk"
    assert_protected(response)
