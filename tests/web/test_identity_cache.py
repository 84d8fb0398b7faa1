"""The per-node cache of resolved sessions: short-lived, bounded, dropped on logout and switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from portal.auth import session_key
from portal.permissions import Actor
from tests.conftest import make_settings
from tests.factories import World, build_world
from tests.utils import wait_for
from tests.web.helpers import login
from web.app import create_app
from web.identities import IdentityCache
from web.keys import DB, IDENTITIES
from web.session import COOKIE_NAME, Identity

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def identity(cookie: str) -> Identity:
    actor = Actor(kind="staff", id="s1", program_id="p1", name="S", base_role="director")
    return Identity(actor, "csrf", cookie, session_key(cookie))


def test_entries_live_for_the_ttl_and_never_past_the_session() -> None:
    ticks = Ticks()
    cache = IdentityCache(ttl_seconds=5, monotonic=ticks)
    cache.put(identity("a"), NOW + timedelta(hours=1))
    cache.put(identity("b"), NOW + timedelta(seconds=30))
    ticks.value += 4.9
    assert cache.get("a", NOW) == identity("a")
    assert cache.get("b", NOW + timedelta(seconds=30)) is None  # the session itself ended
    ticks.value += 0.1
    assert cache.get("a", NOW) is None


def test_the_cache_is_bounded_and_forgets_on_request() -> None:
    cache = IdentityCache(max_entries=2, monotonic=Ticks())
    for cookie in "abc":
        cache.put(identity(cookie), NOW + timedelta(hours=1))
    assert cache.get("a", NOW) is None  # the oldest went first
    assert cache.get("c", NOW) is not None
    cache.forget(session_key("c"))
    assert cache.get("c", NOW) is None


async def test_logout_and_role_switch_take_effect_at_once(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    csrf = await login(client, world.a.director_email)
    assert (await (await client.get("/api/v1/auth/me")).json())["role"] == "director"
    switched = await client.post(
        "/api/v1/auth/role", json={"role": "interviewer"}, headers={"X-CSRF-Token": csrf}
    )
    assert switched.status == 200
    assert (await (await client.get("/api/v1/auth/me")).json())["role"] == "interviewer"
    assert await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert (await client.get("/api/v1/auth/me")).status == 401
    assert len(client.app[IDENTITIES]) == 0


@pytest.mark.redis
async def test_a_logout_is_forgotten_on_the_other_node_too(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path, redis_url: str
) -> None:
    nodes = []
    for name in ("node-a", "node-b"):
        settings = make_settings(sqlite_url, tmp_path, redis_url=redis_url, node_id=name)
        nodes.append(await aiohttp_client(create_app(settings, clock=FakeClock())))
    a, b = nodes
    world = await build_world(a.app[DB])
    csrf = await login(a, world.a.director_email)
    jar = a.session.cookie_jar.filter_cookies(a.make_url("/"))
    cookie = {"Cookie": f"{COOKIE_NAME}={jar[COOKIE_NAME].value}"}
    assert (await b.get("/api/v1/auth/me", headers=cookie)).status == 200
    assert len(b.app[IDENTITIES]) == 1  # node B now answers from its cache
    assert (await a.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status == 204
    await wait_for(lambda: len(b.app[IDENTITIES]) == 0, 5)
    assert (await b.get("/api/v1/auth/me", headers=cookie)).status == 401
