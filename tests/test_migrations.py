"""Migrations run from empty to head and back on SQLite and PostgreSQL."""

import asyncio

from sqlalchemy import inspect

from core.db import create_engine
from web.migrate import downgrade, upgrade
from web.schema import metadata


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_and_downgrade(db_url: str) -> None:
    # db_url arrives migrated to head; go down to empty, then up again.
    await asyncio.to_thread(downgrade, db_url, "base")
    assert await table_names(db_url) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, db_url, "head")
    assert set(metadata.tables) <= await table_names(db_url)


async def test_models_match_migrations(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], f"models changed without a migration: {diff}"
