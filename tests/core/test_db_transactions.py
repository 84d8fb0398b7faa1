"""Write transactions begin as writers on SQLite; read-only sessions never write."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import (
    ReadOnlyWrite,
    create_engine,
    create_read_session_factory,
    create_session_factory,
)
from core.sqlite import NestedWriteTransaction, WriterGate
from portal.models import Program


async def a_program(engine: AsyncEngine) -> str:
    async with create_session_factory(engine)() as db, db.begin():
        program = Program(name="Program", slug="program")
        db.add(program)
        await db.flush()
        return program.id


async def test_read_then_write_transactions_never_see_a_locked_database(sqlite_url: str) -> None:
    """The pattern that failed: read, then write, while other connections write too."""
    engine = create_engine(sqlite_url)
    factory = create_session_factory(engine)
    try:
        program_id = await a_program(engine)

        async def read_then_write(n: int) -> None:
            async with factory() as db, db.begin():
                await db.scalar(select(Program.name).where(Program.id == program_id))
                await asyncio.sleep(0)  # let the others begin in between
                await db.execute(
                    update(Program).where(Program.id == program_id).values(name=f"Program {n}")
                )

        results = await asyncio.gather(
            *(read_then_write(n) for n in range(40)), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
    finally:
        await engine.dispose()


async def test_sqlite_transactions_begin_immediate_unless_read_only(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await a_program(engine)
    path = sqlite_url.split("///", 1)[1]
    try:
        async with create_session_factory(engine)() as writer, writer.begin():
            await writer.execute(text("SELECT 1"))
            # From BEGIN on the writer holds the write lock: no other writer can begin...
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
            # ...while a reader still reads beside it (WAL, a deferred BEGIN).
            async with create_read_session_factory(engine)() as reader, reader.begin():
                assert await reader.scalar(select(Program.id).limit(1)) is not None
    finally:
        await engine.dispose()


async def test_read_only_sessions_refuse_to_write(db_url: str) -> None:
    engine = create_engine(db_url)
    reads = create_read_session_factory(engine)
    try:
        program_id = await a_program(engine)
        async with reads() as db:
            with pytest.raises(ReadOnlyWrite):
                async with db.begin():
                    await db.execute(update(Program).values(name="changed"))
            with pytest.raises(ReadOnlyWrite):
                async with db.begin():
                    found = await db.get(Program, program_id)
                    assert found is not None
                    found.name = "changed"
        async with reads() as db, db.begin():
            assert await db.scalar(select(Program.name)) == "Program"
    finally:
        await engine.dispose()


async def test_a_write_transaction_inside_another_fails_at_once(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    factory = create_session_factory(engine)
    try:
        async with factory() as outer, outer.begin():
            await outer.execute(text("SELECT 1"))
            with pytest.raises(NestedWriteTransaction):
                async with factory() as inner, inner.begin():
                    await inner.execute(text("SELECT 1"))
            # Reading beside it is fine.
            async with create_read_session_factory(engine)() as reader, reader.begin():
                await reader.execute(text("SELECT 1"))
        # The turn was given back: the next writer begins.
        async with factory() as after, after.begin():
            await after.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_writers_take_turns_after_a_failed_transaction(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    factory = create_session_factory(engine)
    try:
        with pytest.raises(ZeroDivisionError):
            async with factory() as db, db.begin():
                await db.execute(text("SELECT 1"))
                _ = 1 / 0
        done = await asyncio.gather(*(a_program_named(engine, f"p{n}") for n in range(20)))
        assert len(set(done)) == 20
    finally:
        await engine.dispose()


async def a_program_named(engine: AsyncEngine, slug: str) -> str:
    async with create_session_factory(engine)() as db, db.begin():
        program = Program(name=slug, slug=slug)
        db.add(program)
        await db.flush()
        return program.id


async def test_a_writer_cancelled_mid_transaction_gives_its_turn_back(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url, pool_timeout=2)
    factory = create_session_factory(engine)
    inside = asyncio.Event()

    async def stuck_writer() -> None:
        async with factory() as db, db.begin():
            await db.execute(text("SELECT 1"))
            inside.set()
            await asyncio.Event().wait()

    try:
        task = asyncio.create_task(stuck_writer())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await a_program_named(engine, "after") is not None
    finally:
        await engine.dispose()


async def test_a_writer_cancelled_as_its_turn_comes_stays_cancelled() -> None:
    """asyncio.wait_for on 3.11 could swallow this cancellation: the task then ran on."""
    gate = WriterGate(wait_seconds=5)
    await gate.lock.acquire()  # another writer has the turn
    waiter = asyncio.create_task(gate._acquire())
    await asyncio.sleep(0)  # the waiter is queued for the turn
    gate.lock.release()  # the turn comes...
    waiter.cancel()  # ...just as the waiter is cancelled
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not gate.lock.locked()
