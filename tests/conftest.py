"""Shared fixtures: databases (SQLite always, PostgreSQL when DATABASE_URL is set), the app,
Redis and Chromium.

Where PostgreSQL, Redis or Chromium is missing, its tests are skipped with the reason shown;
with INTERVIEWDAY_TESTS_REQUIRE=postgres,redis,chromium (as .ci/run sets) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from core.settings import Settings
from tests import services
from tests.factories import World, build_world

pytest_plugins = ["tests.browser"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            callspec = getattr(item, "callspec", None)
            if callspec is not None and callspec.params.get("db_url") == "postgresql":
                item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return services.sqlite_template(tmp_path_factory.mktemp("db-template"))


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    url = services.postgres_url()
    if url is None:
        services.missing("postgres", "PostgreSQL: set DATABASE_URL=postgresql://… to run")
    assert url is not None
    template = services.postgres_template(url)
    yield url
    services.drop_postgres_database(url, template)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind, fresh for every test."""
    if request.param == "sqlite":
        yield services.sqlite_copy(sqlite_template, tmp_path)
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url, name = services.postgres_copy(admin_url)
    yield url
    services.drop_postgres_database(admin_url, name)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return services.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": "test-secret-key-0123456789abcdef",
        "var_dir": tmp_path / "var",
        "public_url": "http://127.0.0.1:8080",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    return make_settings(sqlite_url, tmp_path)


@pytest.fixture
async def client(
    aiohttp_client: object, settings: Settings, clock: FakeClock
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    from web.app import create_app

    app = create_app(settings, clock=clock)
    yield await aiohttp_client(app)  # type: ignore[operator]


@pytest.fixture
async def world(client: TestClient) -> World:  # type: ignore[type-arg]
    """Two programs, A and B, each with staff, applicants, a session, a room and a form."""
    from web.keys import DB

    return await build_world(client.app[DB])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with services.redis_server() as url:
        yield url


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"postgres: {services.postgres_url() or 'not configured (set DATABASE_URL)'}",
        f"redis: {os.environ.get('REDIS_URL') or 'REDIS_URL unset; will start redis-server'}",
        f"chromium: {services.chromium_path() or 'not found'}",
    ]
