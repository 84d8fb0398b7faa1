"""Exports of a rank list and of every score: CSV (to enter the list elsewhere) and PDF.

Pure: rows in, bytes out. Text cells that a spreadsheet would run as a formula (starting with
=, +, -, @, tab or carriage return) get a leading apostrophe, so an applicant named "=HYPERLINK…"
stays a name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

RANK_COLUMNS = (
    "Rank",
    "Applicant",
    "Email",
    "AAMC ID",
    "Medical school",
    "Final score",
    "Average",
    "Interviews",
    "Notes",
)
SCORE_COLUMNS = (
    "Applicant",
    "Email",
    "AAMC ID",
    "Medical school",
    "Session",
    "Interviewer",
    "Status",
    "Score",
    "Counted",
    "Comment",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RankRow:
    rank: int | None
    name: str
    email: str
    aamc_id: str | None
    medical_school: str | None
    final: float | None
    average: float | None
    interviews: int
    notes: str


@dataclass(frozen=True)
class ScoreRow:
    name: str
    email: str
    aamc_id: str | None
    medical_school: str | None
    session: str
    interviewer: str
    status: str
    value: float | None
    counted: str
    comment: str


def safe_text(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def plain_text(value: str | None) -> str:
    return value or ""


def rank_cells(row: RankRow, text: Callable[[str | None], str] = safe_text) -> list[str]:
    return [
        "" if row.rank is None else str(row.rank),
        text(row.name),
        text(row.email),
        text(row.aamc_id),
        text(row.medical_school),
        number(row.final),
        number(row.average),
        str(row.interviews),
        text(row.notes),
    ]


def score_cells(row: ScoreRow, text: Callable[[str | None], str] = safe_text) -> list[str]:
    return [
        text(row.name),
        text(row.email),
        text(row.aamc_id),
        text(row.medical_school),
        text(row.session),
        text(row.interviewer),
        row.status,
        number(row.value),
        row.counted,
        text(row.comment),
    ]


def to_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    # A byte order mark lets Excel read the names' accents as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def rank_list_csv(rows: Sequence[RankRow]) -> bytes:
    return to_csv(RANK_COLUMNS, [rank_cells(r) for r in rows])


def scores_csv(rows: Sequence[ScoreRow]) -> bytes:
    return to_csv(SCORE_COLUMNS, [score_cells(r) for r in rows])


def to_pdf(
    title: str, subtitle: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> bytes:
    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=8, leading=10)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(letter),
        leftMargin=0.5 * inch,
        rightMargin=0.5 * inch,
        topMargin=0.5 * inch,
        bottomMargin=0.5 * inch,
        title=title,
    )
    data = [[Paragraph(f"<b>{_escape(h)}</b>", cell) for h in header]]
    data += [[Paragraph(_escape(value), cell) for value in row] for row in rows]
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecfd")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story = [
        Paragraph(_escape(title), styles["Title"]),
        Paragraph(_escape(subtitle), styles["Normal"]),
        Spacer(1, 0.2 * inch),
        table,
    ]
    document.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rank_list_pdf(title: str, subtitle: str, rows: Sequence[RankRow]) -> bytes:
    return to_pdf(title, subtitle, RANK_COLUMNS, [rank_cells(r, plain_text) for r in rows])


def scores_pdf(title: str, subtitle: str, rows: Sequence[ScoreRow]) -> bytes:
    return to_pdf(title, subtitle, SCORE_COLUMNS, [score_cells(r, plain_text) for r in rows])
