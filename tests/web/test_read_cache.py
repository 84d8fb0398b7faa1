"""Read answers kept until the next write: served again while nothing changed, never stale
after a write, never someone else's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from core.clock import FakeClock
from rooms.models import InterviewSession
from tests.conftest import make_settings
from tests.factories import World
from tests.web.helpers import login
from web.app import create_app
from web.keys import DB, DB_READ, READ_CACHE
from web.readcache import DataVersion, ReadCache, cache_key

Client = TestClient  # type: ignore[type-arg]


async def names(client: Client) -> list[str]:
    response = await client.get("/api/v1/sessions")
    assert response.status == 200
    return [s["name"] for s in await response.json()]


async def test_an_answer_is_served_again_until_a_write(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    cache = client.app[READ_CACHE]
    first = await names(client)
    hits = cache.hits
    assert await names(client) == first
    assert cache.hits == hits + 1

    # A write through the API...
    csrf = await login(client, world.a.director_email)
    created = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/copy",
        json={"dates": ["2031-03-04"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status == 201, await created.text()
    assert len(await names(client)) == len(first) + 1

    # ...and a write straight to the database, by any code of this process.
    async with client.app[DB]() as db, db.begin():
        await db.execute(
            update(InterviewSession)
            .where(InterviewSession.id == world.a.session_id)
            .values(name="Renamed in the database")
        )
    assert "Renamed in the database" in await names(client)


async def test_reads_do_not_forget_answers(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    version = client.app[READ_CACHE].version
    await names(client)
    before = version.value
    async with client.app[DB_READ]() as db, db.begin():
        await db.get(InterviewSession, world.a.session_id)
    await names(client)
    assert version.value == before


async def test_answers_are_kept_per_program_person_and_role(client: Client, world: World) -> None:
    await login(client, world.a.director_email)
    a_names = await names(client)
    client.session.cookie_jar.clear()
    await login(client, world.b.director_email)
    b_names = await names(client)
    assert set(a_names).isdisjoint(b_names)
    client.session.cookie_jar.clear()
    await login(client, world.a.interviewer_email)
    response = await client.get("/api/v1/staff")
    assert response.status == 403  # never the director's kept answer


async def test_paging_headers_come_back_with_the_answer(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    first = await client.get("/api/v1/applicants?per_page=1")
    again = await client.get("/api/v1/applicants?per_page=1")
    assert client.app[READ_CACHE].hits >= 1
    for header in ("X-Total-Count", "X-Pages", "Content-Type"):
        assert again.headers[header] == first.headers[header]
    assert await again.json() == await first.json()


def test_an_answer_computed_across_a_commit_is_not_kept() -> None:
    clock = FakeClock()
    cache = ReadCache(DataVersion(), ttl_seconds=2)
    key = cache_key(None, "/x")
    started = cache.version.value
    cache.version.bump()  # a write committed while the answer was read
    cache.put(key, started, clock.now(), web.Response(body=b"[]"))
    assert cache.get(key, clock.now()) is None
    cache.put(key, cache.version.value, clock.now(), web.Response(body=b"[]"))
    assert cache.get(key, clock.now()) is not None
    assert cache.get(key, clock.now() + 2) is None  # and never past its time


def test_errors_are_never_kept() -> None:
    cache = ReadCache(DataVersion())
    key = cache_key(None, "/x")
    cache.put(key, 0, 0.0, web.Response(body=b"{}", status=404))
    assert cache.get(key, 0.0) is None


@pytest.mark.redis
async def test_several_nodes_keep_nothing(
    aiohttp_client: Any, redis_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(sqlite_url, tmp_path, redis_url=redis_url))
    client = await aiohttp_client(app)
    assert client.app.get(READ_CACHE) is None
