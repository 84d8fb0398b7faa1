"""A migrated database of each kind (SQLite, PostgreSQL) with programs A and B in it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_session_factory
from tests.factories import World, build_world


@pytest.fixture
async def factory(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def two_programs(factory: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(factory)
