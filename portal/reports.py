"""Season and session reports as pure data: counts in, tables and CSV out.

The queries that gather the counts span packages and live in `web/reports.py`; everything here
takes plain numbers, so it is tested without a database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from portal.models import APPLICANT_STATUSES

Cell = str | int | float | None
# Spreadsheets run cells that start like a formula; a leading quote keeps them text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int
    percent: float  # of all applicants counted, 0 when there are none

    @property
    def label(self) -> str:
        return self.status.replace("_", " ")


@dataclass(frozen=True)
class SeatFill:
    capacity: int
    scheduled: int
    waitlisted: int

    @property
    def open_seats(self) -> int:
        return max(0, self.capacity - self.scheduled)

    @property
    def percent(self) -> float | None:
        """Scheduled as a share of capacity; None when the session has no capacity set."""
        if self.capacity <= 0:
            return None
        return round(100 * self.scheduled / self.capacity, 1)

    @property
    def over_capacity(self) -> bool:
        return self.scheduled > self.capacity > 0


@dataclass(frozen=True)
class SessionSummary:
    id: str
    name: str
    date: date
    mode: str
    seats: SeatFill
    rooms: int
    interviewers: int


@dataclass(frozen=True)
class RoomLine:
    room: str
    interviewers: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def status_counts(counts: Mapping[str, int]) -> tuple[StatusCount, ...]:
    """Every known status in its usual order (zeros included), then any unknown ones."""
    order = list(APPLICANT_STATUSES) + sorted(set(counts) - set(APPLICANT_STATUSES))
    total = sum(counts.values())
    return tuple(
        StatusCount(status, counts.get(status, 0), _percent(counts.get(status, 0), total))
        for status in order
    )


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole > 0 else 0.0


def bar_percent(value: int, maximum: int) -> float:
    """A bar's length as a percentage of the longest one."""
    return round(100 * value / maximum, 1) if maximum > 0 else 0.0


def status_table(counts: Sequence[StatusCount]) -> Table:
    return Table(
        ("status", "applicants", "percent"),
        tuple((c.status, c.count, c.percent) for c in counts),
    )


def sessions_table(sessions: Sequence[SessionSummary]) -> Table:
    return Table(
        (
            "session",
            "date",
            "mode",
            "capacity",
            "scheduled",
            "waitlisted",
            "open_seats",
            "percent_filled",
            "rooms",
            "interviewers",
        ),
        tuple(
            (
                s.name,
                s.date.isoformat(),
                s.mode,
                s.seats.capacity,
                s.seats.scheduled,
                s.seats.waitlisted,
                s.seats.open_seats,
                s.seats.percent,
                s.rooms,
                s.interviewers,
            )
            for s in sessions
        ),
    )


def rooms_table(rooms: Sequence[RoomLine]) -> Table:
    return Table(
        ("room", "interviewer_count", "interviewers"),
        tuple((r.room, len(r.interviewers), "; ".join(r.interviewers)) for r in rooms),
    )


def _safe(cell: Cell) -> Cell:
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_text(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows(_csv_row(row) for row in table.rows)
    return out.getvalue()


def _csv_row(row: Iterable[Cell]) -> list[Cell]:
    return ["" if cell is None else _safe(cell) for cell in row]
