"""A saturated database pool answers 503 with Retry-After; /metrics needs its token."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from core.clock import FakeClock
from core.security import PasswordPoolBusy
from core.sqlite import WriterTurnTimeout
from portal.auth import LoginsBusy
from tests.conftest import make_settings
from tests.factories import build_world
from tests.web.helpers import error_of, login
from web.app import create_app
from web.keys import DB, ENGINE
from web.overload import make_admission_middleware, overload_middleware
from web.system import metrics_allowed

TOKEN = "metrics-token-0123456789"


async def test_an_exhausted_pool_answers_503_with_retry_after(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, db_pool_timeout=0.2)
    client = await aiohttp_client(create_app(settings, clock=FakeClock()))
    world = await build_world(client.app[DB])
    await login(client, world.a.director_email)
    held: list[AsyncConnection] = []
    with pytest.raises(PoolTimeout):
        while True:  # take every connection the pool will give
            held.append(await client.app[ENGINE].connect())
    try:
        for path, accept in (("/api/v1/auth/me", "*/*"), ("/dashboard", "text/html")):
            response = await client.get(path, headers={"Accept": accept})
            assert response.status == 503, path
            assert response.headers["Retry-After"] == "2"
            if path.startswith("/api/"):
                assert (await error_of(response))["code"] == "overloaded"
    finally:
        for connection in held:
            await connection.close()
    assert (await client.get("/api/v1/auth/me")).status == 200


def test_metrics_access_rule() -> None:
    assert metrics_allowed(TOKEN, f"Bearer {TOKEN}", "203.0.113.5")
    assert metrics_allowed(TOKEN, f"bearer  {TOKEN}", "203.0.113.5")
    assert not metrics_allowed(TOKEN, "Bearer wrong", "127.0.0.1")
    assert not metrics_allowed(TOKEN, None, "127.0.0.1")
    assert not metrics_allowed(TOKEN, f"Basic {TOKEN}", "127.0.0.1")
    # Without a token, this machine only (the transport peer, never a forwarded address).
    assert metrics_allowed(None, None, "127.0.0.1")
    assert metrics_allowed(None, None, "::1")
    assert not metrics_allowed(None, None, "10.0.0.2")
    assert not metrics_allowed(None, None, None)


async def test_metrics_need_the_bearer_token_when_one_is_set(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path, metrics_token=TOKEN)
    client = await aiohttp_client(create_app(settings, clock=FakeClock()))
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert (await error_of(refused))["code"] == "unauthorized"
    allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status == 200
    assert "interviewday_http_requests_total" in await allowed.text()


async def test_metrics_count_the_status_the_client_got(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(make_settings(sqlite_url, tmp_path)))
    assert (await client.get("/api/v1/auth/me")).status == 401
    assert (await client.get("/api/v1/nothing-here")).status == 404
    body = await (await client.get("/metrics")).text()
    assert 'route="/api/v1/auth/me",status="401"' in body
    assert 'status="404"' in body
    assert 'status="500"' not in body


async def test_admission_waits_in_line_then_answers_503(aiohttp_client: Any) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.json_response({"ok": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[make_admission_middleware(1, 0.2)])
    app.router.add_get("/api/v1/slow", slow)
    app.router.add_get("/healthz", health)
    client = await aiohttp_client(app)
    first = asyncio.create_task(client.get("/api/v1/slow"))
    await entered.wait()  # the first request holds the only slot
    turned_away = await client.get("/api/v1/slow")
    assert turned_away.status == 503
    assert turned_away.headers["Retry-After"] == "2"
    assert (await error_of(turned_away))["code"] == "overloaded"
    # Health checks never wait behind the database's queue.
    assert (await client.get("/healthz")).status == 200
    release.set()
    assert (await first).status == 200
    assert (await client.get("/api/v1/slow")).status == 200


@pytest.mark.parametrize(
    "overload",
    [
        WriterTurnTimeout("waited"),
        PoolTimeout("no connection"),
        PasswordPoolBusy(),
        LoginsBusy(),
    ],
)
async def test_every_kind_of_waiting_too_long_is_a_503(
    aiohttp_client: Any, overload: Exception
) -> None:
    async def stuck(request: web.Request) -> web.Response:
        raise overload

    app = web.Application(middlewares=[overload_middleware])
    app.router.add_post("/api/v1/stuck", stuck)
    client = await aiohttp_client(app)
    response = await client.post("/api/v1/stuck")
    assert response.status == 503
    assert response.headers["Retry-After"] == "2"
    assert (await error_of(response))["code"] == "overloaded"
