"""What the completion, distribution and agreement pages draw: plain data for the templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.scoping import ProgramScope
from rooms.models import RoomInterviewer
from scoring.models import Score
from web.api.ranks import PointOut, load_board
from web.api.scores import published_interviews

CHART_SIZE = 300
CHART_MARGIN = 30


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str
    interviewer_id: str
    applicant_id: str


@dataclass(frozen=True)
class Scatter:
    dots: tuple[Dot, ...]
    ticks: tuple[tuple[float, str], ...]
    low: float
    high: float


def scatter(points: Sequence[PointOut], target_range: tuple[float, float]) -> Scatter:
    """Each interviewer's value (x) against the others' mean (y); the diagonal is agreement."""
    low, high = target_range
    span = CHART_SIZE - 2 * CHART_MARGIN

    def place(value: float) -> float:
        return CHART_MARGIN + (value - low) / (high - low) * span

    dots = tuple(
        Dot(
            round(place(p.value), 1),
            round(CHART_SIZE - place(p.others_mean), 1),
            f"{p.value:.1f} vs others {p.others_mean:.1f}",
            p.interviewer_id,
            p.applicant_id,
        )
        for p in points
    )
    steps = 4
    ticks = tuple(
        (round(place(low + (high - low) * i / steps), 1), f"{low + (high - low) * i / steps:g}")
        for i in range(steps + 1)
    )
    return Scatter(dots, ticks, low, high)


@dataclass(frozen=True)
class Bin:
    label: str
    count: int
    percent: float


def histogram(values: Sequence[float], target_range: tuple[float, float]) -> list[Bin]:
    """One bin per whole point of the range; the top value falls in the last bin."""
    low, high = target_range
    edges = max(1, int(high - low))
    width = (high - low) / edges
    counts = [0] * edges
    for value in values:
        index = min(edges - 1, max(0, int((value - low) / width)))
        counts[index] += 1
    top = max([*counts, 1])
    return [
        Bin(f"{low + i * width:g}–{low + (i + 1) * width:g}", count, round(100 * count / top, 1))
        for i, count in enumerate(counts)
    ]


@dataclass(frozen=True)
class Completion:
    interviewer: str
    session: str
    expected: int
    submitted: int
    drafts: int
    owed: tuple[str, ...]


async def completion_context(scope: ProgramScope) -> dict[str, Any]:
    board = await load_board(scope)
    interviews = await published_interviews(scope)
    staff_by_room: dict[str, list[str]] = {}
    for link in await scope.all(RoomInterviewer):
        staff_by_room.setdefault(link.room_id, []).append(link.staff_id)
    by_key = {(s.session_id, s.applicant_id, s.interviewer_id): s for s in await scope.all(Score)}
    expected: dict[tuple[str, str], list[str]] = {}
    for interview, room, session in interviews:
        for staff_id in staff_by_room.get(room.id, []):
            expected.setdefault((staff_id, session.id), []).append(interview.applicant_id)
    rows = []
    for (staff_id, session_id), applicant_ids in expected.items():
        sheets = [by_key.get((session_id, a, staff_id)) for a in applicant_ids]
        owed = tuple(
            board.applicants[a].display_name
            for a, sheet in zip(applicant_ids, sheets, strict=True)
            if sheet is None or sheet.status != "submitted"
        )
        rows.append(
            Completion(
                interviewer=board.staff_names.get(staff_id, "?"),
                session=board.session_names.get(session_id, "?"),
                expected=len(applicant_ids),
                submitted=sum(1 for s in sheets if s is not None and s.status == "submitted"),
                drafts=sum(1 for s in sheets if s is not None and s.status != "submitted"),
                owed=owed,
            )
        )
    rows.sort(key=lambda r: (r.session, r.interviewer))
    results = [r.result for r in board.ranked]
    sheet_values = [s.value for r in results for s in r.scores if s.value is not None]
    finals = [r.final for r in results if r.final is not None]
    return {
        "completion": rows,
        "owed_total": sum(len(r.owed) for r in rows),
        "sheet_bins": histogram(sheet_values, board.target_range),
        "final_bins": histogram(finals, board.target_range),
        "sheet_count": len(sheet_values),
        "final_count": len(finals),
    }
