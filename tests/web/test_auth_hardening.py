"""Login under hostile conditions: concurrent bursts, unknown accounts, foreign pages."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from core.clock import FakeClock
from core.errors import AppError
from portal.auth import Auth, KnownLimits
from portal.models import LoginAttempt, Staff
from tests.conftest import make_settings
from tests.factories import PASSWORD, World, build_world
from tests.web.helpers import error_of, login
from web.app import create_app
from web.keys import AUTH, DB, PASSWORD_POOL


@pytest.fixture
async def any_db_client(aiohttp_client: Any, db_url: str, tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    app = create_app(make_settings(db_url, tmp_path), clock=FakeClock())
    client: TestClient = await aiohttp_client(app)  # type: ignore[type-arg]
    return client


async def _bad_login(client: TestClient, email: str) -> int:  # type: ignore[type-arg]
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": "nope"})
    if response.status >= 400:
        await error_of(response)
    return response.status


async def test_exactly_ten_of_forty_concurrent_attempts_reach_the_password_check(
    any_db_client: TestClient,  # type: ignore[type-arg]
) -> None:
    world = await build_world(any_db_client.app[DB])
    email = world.a.coordinator_email
    statuses = await asyncio.gather(*(_bad_login(any_db_client, email) for _ in range(40)))
    assert Counter(statuses) == {401: 10, 429: 30}
    async with any_db_client.app[DB]() as db:
        recorded = await db.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.key == f"email:{email}")
        )
    assert recorded == 10


async def test_the_limit_holds_across_nodes_sharing_the_database(
    any_db_client: TestClient,  # type: ignore[type-arg]
) -> None:
    """Two nodes (two `Auth`s with no gate or memory in common), twenty at once on each: only
    the database's own locking keeps the count."""
    app = any_db_client.app
    world = await build_world(app[DB])
    base = app[AUTH]
    nodes = [Auth(base.passwords, base.tokens, base.clock, login_transactions=40) for _ in range(2)]

    async def attempt(node: Auth) -> str:
        try:
            await node.login(app[DB], app[PASSWORD_POOL], world.b.director_email, "no", "c")
        except AppError as exc:
            return exc.code
        return "ok"

    outcomes = await asyncio.gather(*(attempt(node) for node in nodes for _ in range(20)))
    assert Counter(outcomes) == {"bad_credentials": 10, "rate_limited": 30}


async def test_a_good_password_forgives_the_emails_failures(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    email = world.a.director_email
    for _ in range(9):
        assert await _bad_login(client, email) == 401
    await login(client, email)
    # The slate is clean again: ten more failures before the limit.
    statuses = [await _bad_login(client, email) for _ in range(11)]
    assert statuses == [401] * 10 + [429]


async def test_unknown_and_unusable_accounts_verify_against_the_dummy_hash(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    pool = client.app[PASSWORD_POOL]
    assert await _bad_login(client, "nobody@nowhere.test") == 401
    assert pool.dummy_verifications == 1
    assert await _bad_login(client, world.a.interviewer_email) == 401
    assert pool.dummy_verifications == 1  # a known account checks its own hash
    async with client.app[DB]() as db, db.begin():
        await db.execute(
            update(Staff).where(Staff.email == world.a.interviewer_email).values(active=False)
        )
    assert await _bad_login(client, world.a.interviewer_email) == 401
    assert pool.dummy_verifications == 2
    # Even the right password of a deactivated account gets the same answer after the same work.
    deactivated = await client.post(
        "/api/v1/auth/login", json={"email": world.a.interviewer_email, "password": PASSWORD}
    )
    assert deactivated.status == 401
    assert (await error_of(deactivated))["code"] == "bad_credentials"
    assert pool.dummy_verifications == 3


async def test_unknown_emails_are_rate_limited_like_known_ones(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    statuses = [await _bad_login(client, "ghost@nowhere.test") for _ in range(11)]
    assert statuses == [401] * 10 + [429]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"email": "a@b.test", "password": "x"}', "text/plain"),
        ("email=a%40b.test&password=x", "application/x-www-form-urlencoded"),
        ("not even json", "text/plain"),
    ],
)
async def test_login_api_takes_only_json(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    body: str,
    content_type: str,
) -> None:
    response = await client.post(
        "/api/v1/auth/login", data=body, headers={"Content-Type": content_type}
    )
    assert response.status == 415
    assert (await error_of(response))["code"] == "unsupported_media_type"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.test"])
async def test_login_api_refuses_a_foreign_origin(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    origin: str,
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": world.a.director_email, "password": PASSWORD},
        headers={"Origin": origin},
    )
    assert response.status == 403
    assert (await error_of(response))["code"] == "bad_origin"
    assert "Set-Cookie" not in response.headers


async def test_login_api_accepts_its_own_origin(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    own = f"http://{client.server.host}:{client.server.port}"
    public = "http://127.0.0.1:8080"  # the configured INTERVIEWDAY_PUBLIC_URL
    for origin in (own, public):
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": world.a.director_email, "password": PASSWORD},
            headers={"Origin": origin},
        )
        assert response.status == 200, origin


async def test_page_login_refuses_a_foreign_origin(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    response = await client.post(
        "/login",
        data={"email": world.a.director_email, "password": PASSWORD, "next": "/dashboard"},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 400
    assert "Set-Cookie" not in response.headers


def test_known_limits_refuse_until_the_minute_ends_and_stay_bounded() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    limits = KnownLimits(max_keys=2)
    limits.remember("email:a", now + timedelta(seconds=30))
    assert limits.any_limited(("email:a", "client:x"), now)
    assert not limits.any_limited(("email:a",), now + timedelta(seconds=30))
    limits.forget("email:a")
    assert not limits.any_limited(("email:a",), now)
    for key in ("k1", "k2", "k3"):
        limits.remember(key, now + timedelta(minutes=1))
    assert sum(limits.any_limited((key,), now) for key in ("k1", "k2", "k3")) == 2


async def test_page_login_with_an_oversized_email_is_a_plain_refusal(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    response = await client.post(
        "/login", data={"email": "x" * 5000 + "@a.test", "password": "p", "next": "/dashboard"}
    )
    assert response.status == 401
    assert "Wrong email or password." in await response.text()
