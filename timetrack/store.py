"""Keeping a day in the database: its state, every command (by id), every fired event (by key).

The unique keys make repeats harmless: a command id seen before returns its first result, and
an event key fired before is never fired again, even across a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import to_datetime
from rooms.models import Interview, Itinerary
from timetrack.models import DayCommand, DayRun, PhaseEvent
from timetrack.plan import ClockEvent
from timetrack.state import DayState, state_from_json, state_to_json


def event_key(event: ClockEvent) -> str:
    return f"{event.kind}:{event.round if event.round is not None else '-'}"


class StaleOwner(Exception):
    """Another node has taken this day over since this store claimed it: its writes are refused,
    and whoever holds it must stop running the day."""


@dataclass(frozen=True)
class Loaded:
    state: DayState
    fired: frozenset[str]
    version: int


@dataclass
class DayStore:
    sessions: async_sessionmaker[AsyncSession]
    program_id: str
    session_id: str
    fence: int | None = None
    """The fencing token of this node's claim (`claim`); None: unfenced (one process)."""

    async def claim(self) -> int:
        """Takes the day for this process: raises the fencing token, so every write of a node
        that ran it before is refused from now on. The day's row must exist (`save` first)."""
        async with self.sessions() as db, db.begin():
            fence = await db.scalar(
                update(DayRun)
                .where(DayRun.session_id == self.session_id, DayRun.program_id == self.program_id)
                .values(fence=DayRun.fence + 1)
                .returning(DayRun.fence)
            )
        if fence is None:
            raise LookupError(f"no day run for session {self.session_id}")
        self.fence = int(fence)
        return self.fence

    async def _fenced(self, db: AsyncSession) -> None:
        """Inside a write transaction: refuse it unless this store's claim is still the latest.
        The update locks the day's row, so a claim by another node waits for this transaction
        or makes it fail here."""
        if self.fence is None:
            return
        result = await db.execute(
            update(DayRun)
            .where(DayRun.session_id == self.session_id, DayRun.fence == self.fence)
            .values(fence=self.fence)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise StaleOwner(f"session {self.session_id}: another node runs this day now")

    async def load(self) -> Loaded | None:
        async with self.sessions() as db:
            run = await db.get(DayRun, self.session_id)
            if run is None or run.program_id != self.program_id:
                return None
            keys = await db.scalars(
                select(PhaseEvent.key).where(PhaseEvent.session_id == self.session_id)
            )
            return Loaded(state_from_json(run.plan), frozenset(keys), run.version)

    async def save(self, state: DayState, status: str) -> None:
        async with self.sessions() as db, db.begin():
            await self._fenced(db)
            run = await db.get(DayRun, self.session_id)
            data = state_to_json(state)
            if run is None:
                db.add(
                    DayRun(
                        program_id=self.program_id,
                        session_id=self.session_id,
                        plan=data,
                        state=status,
                        version=1,
                    )
                )
            else:
                run.plan = data
                run.state = status
                run.version += 1

    async def fire(self, event: ClockEvent, now: float, payload: dict[str, Any]) -> bool:
        """Records the event; False when it had already fired (then do nothing)."""
        try:
            async with self.sessions() as db, db.begin():
                await self._fenced(db)
                db.add(
                    PhaseEvent(
                        program_id=self.program_id,
                        session_id=self.session_id,
                        key=event_key(event),
                        kind=event.kind,
                        round_number=event.round,
                        scheduled_for=to_datetime(event.at),
                        fired_at=to_datetime(now),
                        payload=payload,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def fire_many(
        self, events: list[tuple[ClockEvent, dict[str, Any]]], now: float
    ) -> set[str]:
        """Records several events in one transaction; returns the keys that were new."""
        if not events:
            return set()
        keys = [event_key(event) for event, _ in events]
        try:
            async with self.sessions() as db, db.begin():
                await self._fenced(db)
                done = set(
                    await db.scalars(
                        select(PhaseEvent.key).where(
                            PhaseEvent.session_id == self.session_id, PhaseEvent.key.in_(keys)
                        )
                    )
                )
                for (event, payload), key in zip(events, keys, strict=True):
                    if key in done:
                        continue
                    db.add(
                        PhaseEvent(
                            program_id=self.program_id,
                            session_id=self.session_id,
                            key=key,
                            kind=event.kind,
                            round_number=event.round,
                            scheduled_for=to_datetime(event.at),
                            fired_at=to_datetime(now),
                            payload=payload,
                        )
                    )
                return set(keys) - done
        except IntegrityError:
            # Another ticker got there first (it should not exist): fire them one by one.
            fresh = set()
            for (event, payload), key in zip(events, keys, strict=True):
                if await self.fire(event, now, payload):
                    fresh.add(key)
            return fresh

    async def command_result(self, command_id: str) -> dict[str, Any] | None:
        async with self.sessions() as db:
            row = await db.scalar(
                select(DayCommand).where(
                    DayCommand.session_id == self.session_id, DayCommand.command_id == command_id
                )
            )
            return dict(row.result) if row is not None else None

    async def record_command(
        self,
        command_id: str,
        kind: str,
        args: dict[str, Any],
        actor_id: str | None,
        now: float,
        result: dict[str, Any],
    ) -> dict[str, Any]:
        try:
            async with self.sessions() as db, db.begin():
                await self._fenced(db)
                db.add(
                    DayCommand(
                        program_id=self.program_id,
                        session_id=self.session_id,
                        command_id=command_id,
                        kind=kind,
                        args=args,
                        actor_id=actor_id,
                        at=to_datetime(now),
                        result=result,
                    )
                )
        except IntegrityError:
            earlier = await self.command_result(command_id)
            return earlier if earlier is not None else result
        return result

    async def set_statuses(self, statuses: dict[tuple[int, str], str]) -> None:
        """Mirrors interview statuses onto the published itinerary's rows."""
        if not statuses:
            return
        async with self.sessions() as db, db.begin():
            await self._fenced(db)
            itinerary = await db.scalar(
                select(Itinerary).where(
                    Itinerary.session_id == self.session_id, Itinerary.status == "published"
                )
            )
            if itinerary is None:
                return
            for (round_number, room_id), status in statuses.items():
                await db.execute(
                    update(Interview)
                    .where(
                        Interview.itinerary_id == itinerary.id,
                        Interview.round_number == round_number,
                        Interview.room_id == room_id,
                    )
                    .values(status=status)
                )

    async def commands(self) -> list[DayCommand]:
        async with self.sessions() as db:
            rows = await db.scalars(
                select(DayCommand)
                .where(DayCommand.session_id == self.session_id)
                .order_by(DayCommand.at)
            )
            return list(rows)
