"""SQLite, the embedded default, with several writers in one process: the ticker, the jobs loop
and requests.

SQLite allows one writer at a time. The driver would begin every transaction DEFERRED: one that
reads, then writes after another connection committed, fails at once with "database is locked"
(its snapshot is stale; no busy timeout helps an upgrade). So a write transaction begins as a
writer (`BEGIN IMMEDIATE`), and writers of this process take turns through one asyncio lock, in
the order they asked, instead of polling SQLite's lock (its busy handler sleeps up to 100 ms
between tries, which starves a burst of writers). Transactions on the read-only engine option
begin DEFERRED and run beside the writer (WAL).

A write transaction opened inside another one on the same task could never get the lock; it
fails at once with `NestedWriteTransaction` instead of hanging.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

READ_ONLY = "interviewday_read_only"
"""An engine/connection execution option: transactions on it only read."""

BUSY_TIMEOUT_MS = 30_000


class NestedWriteTransaction(RuntimeError):
    """A write transaction was opened while the same task holds another: it would deadlock."""


class WriterTurnTimeout(RuntimeError):
    """A writer waited longer than the limit for its turn."""


@dataclass
class WriterGate:
    """One writer at a time in this process; `holder` is the connection inside its turn."""

    wait_seconds: float = 30.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: Connection | None = None
    holder_task: asyncio.Task[Any] | None = None
    holder_raw: Any = None
    """The DBAPI connection under `holder`: the pool may get it back without a rollback
    event (a task cancelled mid-transaction), and then the turn must end too."""

    def enter(self, conn: Connection) -> None:
        task = asyncio.current_task()
        if task is not None and task is self.holder_task:
            raise NestedWriteTransaction(
                "a write transaction was opened inside another one on the same task; "
                "finish the first (or read with the read-only sessions) before writing again"
            )
        if self.holder is not None and self.holder_task is not None and self.holder_task.done():
            # Its task is gone without ending the transaction: the turn ends with it.
            self.leave(self.holder)
        try:
            await_only(self._acquire())
        except TimeoutError:
            raise WriterTurnTimeout(
                f"waited {self.wait_seconds:.0f} s for the database's write turn"
            ) from None
        self.holder, self.holder_task = conn, task
        self.holder_raw = conn.connection.dbapi_connection

    async def _acquire(self) -> None:
        # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as
        # the lock is granted, and a cancelled task (a stopping jobs loop) would run on.
        async with asyncio.timeout(self.wait_seconds):
            await self.lock.acquire()

    def leave(self, conn: Connection) -> None:
        if self.holder is conn:
            self.holder, self.holder_task, self.holder_raw = None, None, None
            self.lock.release()

    def returned(self, dbapi_connection: Any) -> None:
        if self.holder is not None and dbapi_connection is self.holder_raw:
            self.leave(self.holder)


def configure(engine: AsyncEngine, *, turn_timeout: float = 30.0) -> None:
    """Pragmas on every new connection; writers begin as writers and wait at most
    `turn_timeout` seconds for their turn (`WriterTurnTimeout`)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # We begin transactions ourselves (below), never the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL stays consistent; it only skips an fsync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    gate = WriterGate(wait_seconds=turn_timeout)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get(READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        gate.enter(conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            gate.leave(conn)
            raise

    @event.listens_for(engine.sync_engine, "commit")
    @event.listens_for(engine.sync_engine, "rollback")
    def _end(conn: Connection) -> None:
        gate.leave(conn)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    @event.listens_for(engine.sync_engine.pool, "reset")
    @event.listens_for(engine.sync_engine.pool, "invalidate")
    @event.listens_for(engine.sync_engine.pool, "close")
    def _returned(dbapi_connection: Any, *_args: Any) -> None:
        gate.returned(dbapi_connection)
