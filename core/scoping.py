"""The one way to read a program's rows: through a `ProgramScope`, which adds the program filter.

Rows of another program look exactly like rows that do not exist (NotFound), so nobody can
learn another program's ids by probing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ForeignKey, Select, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from core.errors import NotFound


class ProgramOwned:
    """Mixin for every row that belongs to a program."""

    @declared_attr
    def program_id(cls) -> Mapped[str]:
        return mapped_column(
            String(32),
            ForeignKey("programs.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
            info={"program_scoped": True},
        )


Owned = TypeVar("Owned", bound=ProgramOwned)


class ProgramScope:
    def __init__(self, db: AsyncSession, program_id: str) -> None:
        self.db = db
        self.program_id = program_id

    def select(self, model: type[Owned], *criteria: Any) -> Select[tuple[Owned]]:
        return select(model).where(model.program_id == self.program_id, *criteria)

    async def get(self, model: type[Owned], object_id: str, *, what: str | None = None) -> Owned:
        found = await self.find(model, object_id)
        if found is None:
            label = what or model.__name__.lower()
            raise NotFound(f"No {label} with id {object_id!r}", field="id")
        return found

    async def find(self, model: type[Owned], object_id: str) -> Owned | None:
        row = await self.db.get(model, object_id)
        if row is None or row.program_id != self.program_id:
            return None
        return row

    async def all(self, model: type[Owned], *criteria: Any) -> list[Owned]:
        return list((await self.db.scalars(self.select(model, *criteria))).all())

    def add(self, row: Owned) -> Owned:
        row.program_id = self.program_id
        self.db.add(row)
        return row
