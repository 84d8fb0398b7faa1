"""Reading staff and applicant CSV files (pure: text in, rows and problems out).

Every bad row is reported with its line number and the reason, and a file with any problem
imports nothing: a coordinator fixes the file once instead of cleaning up half an import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from core.errors import ValidationFailed
from core.textcheck import control_problem
from portal.models import APPLICANT_STATUSES, ROLES

MAX_ROWS = 10_000
PHONE_PATTERN = re.compile(r"^[0-9+().\-\s/x]{3,40}$")
AAMC_PATTERN = re.compile(r"^[0-9]{1,40}$")

# Spreadsheet headers people actually write, mapped to our column names.
HEADER_ALIASES = {
    "first": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "full_name": "name",
    "email_address": "email",
    "e_mail": "email",
    "school": "medical_school",
    "aamc": "aamc_id",
    "aamc_number": "aamc_id",
    "phone_number": "phone",
    "time_zone": "timezone",
}
STAFF_COLUMNS = frozenset({"name", "email", "role"})
APPLICANT_COLUMNS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "email",
        "medical_school",
        "aamc_id",
        "phone",
        "timezone",
        "status",
    }
)
APPLICANT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "medical_school": 200,
    "aamc_id": 40,
    "phone": 40,
}


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str | None
    reason: str

    def text(self) -> str:
        return f"line {self.line}: {self.reason}"


class CsvRejected(ValidationFailed):
    """The file has problems; `problems` lists every one. Nothing was imported."""

    code = "csv_invalid"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        shown = "; ".join(p.text() for p in self.problems[:5])
        more = len(self.problems) - 5
        if more > 0:
            shown += f"; and {more} more"
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"Nothing was imported: the file has {count} {noun}. {shown}.", field="file"
        )

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = dict(super().body()["error"])
        error["problems"] = [
            {"line": p.line, "field": p.field, "reason": p.reason} for p in self.problems
        ]
        return {"error": error}


@dataclass(frozen=True)
class StaffRow:
    line: int
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class ApplicantRow:
    """One applicant from the file; None means the cell was empty (keep what we have)."""

    line: int
    email: str
    first_name: str
    last_name: str
    medical_school: str | None = None
    aamc_id: str | None = None
    phone: str | None = None
    timezone: str | None = None
    status: str | None = None


RowT = TypeVar("RowT")


@dataclass
class Parsed(Generic[RowT]):
    rows: list[RowT] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def raise_if_bad(self) -> None:
        if self.problems:
            raise CsvRejected(self.problems)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problem = RowProblem(1, "file", 'the file is not UTF-8 text (save it as "CSV UTF-8")')
        raise CsvRejected([problem]) from None


def normalize_email(value: str) -> str:
    return value.strip().lower()


def email_problem(email: str) -> str | None:
    if not email:
        return "missing email"
    try:
        # Syntax only, as web/api/fields.py: no DNS lookups while importing a file, and the
        # `.test` domains demos and rehearsals use stay valid.
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return f"bad email {email!r}"
    return None


def _header_name(raw: str) -> str:
    name = re.sub(r"[\s\-]+", "_", raw.strip().lower())
    return HEADER_ALIASES.get(name, name)


def _records(
    text: str,
    allowed: frozenset[str],
    header_problem: Callable[[set[str]], str | None],
    parsed: Parsed[Any],
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yields (line, {column: stripped value}) for each non-blank row; header problems go to
    `parsed` and stop the reading."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [_header_name(h) for h in next(reader)]
    except StopIteration:
        parsed.problems.append(RowProblem(1, "file", "the file is empty"))
        return
    except csv.Error as exc:
        parsed.problems.append(RowProblem(1, "file", f"not a CSV file ({exc})"))
        return
    for name in header:
        if name and name not in allowed:
            columns = ", ".join(sorted(allowed))
            parsed.problems.append(
                RowProblem(1, name, f"unknown column {name!r} (columns: {columns})")
            )
    seen = [name for name in header if name]
    for name in sorted({n for n in seen if seen.count(n) > 1}):
        parsed.problems.append(RowProblem(1, name, f"column {name!r} appears twice"))
    if not parsed.problems and (problem := header_problem(set(seen))):
        parsed.problems.append(RowProblem(1, "file", problem))
    if parsed.problems:
        return
    count = 0
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            count += 1
            if count > MAX_ROWS:
                parsed.problems.append(
                    RowProblem(line, "file", f"more than {MAX_ROWS} rows; split the file")
                )
                return
            if len(values) > len(header):
                parsed.problems.append(
                    RowProblem(
                        line,
                        None,
                        f"{len(values)} values but the header has {len(header)} columns",
                    )
                )
                continue
            padded = values + [""] * (len(header) - len(values))
            cells = {name: value.strip() for name, value in zip(header, padded, strict=True)}
            unprintable = [
                RowProblem(line, name, f"{name} {problem}")
                for name, value in cells.items()
                if name and (problem := control_problem(value))
            ]
            if unprintable:
                parsed.problems.extend(unprintable)
                continue
            yield line, cells
    except csv.Error as exc:
        parsed.problems.append(RowProblem(reader.line_num, "file", f"unreadable row ({exc})"))
        return
    if count == 0:
        parsed.problems.append(RowProblem(2, "file", "the file has no rows to import"))


def parse_staff(text: str) -> Parsed[StaffRow]:
    parsed: Parsed[StaffRow] = Parsed()
    first_seen: dict[str, int] = {}
    for line, cells in _records(text, STAFF_COLUMNS, _staff_header_problem, parsed):
        reasons: list[tuple[str, str]] = []
        name = cells["name"]
        email = normalize_email(cells["email"])
        role = cells["role"].lower()
        if not name:
            reasons.append(("name", "missing name"))
        elif len(name) > 200:
            reasons.append(("name", "name longer than 200 characters"))
        if problem := email_problem(email):
            reasons.append(("email", problem))
        elif email in first_seen:
            reasons.append(("email", f"duplicate email {email} (also on line {first_seen[email]})"))
        else:
            first_seen[email] = line
        if role not in ROLES:
            reasons.append(("role", f"unknown role {cells['role']!r} (use {', '.join(ROLES)})"))
        if reasons:
            parsed.problems.extend(RowProblem(line, f, r) for f, r in reasons)
        else:
            parsed.rows.append(StaffRow(line, name, email, role))
    return parsed


def _staff_header_problem(columns: set[str]) -> str | None:
    missing = ", ".join(sorted(STAFF_COLUMNS - columns))
    return f"missing column(s): {missing}" if missing else None


def split_full_name(name: str) -> tuple[str, str]:
    """Splits "Last, First" or "First Middle Last" into (first, last)."""
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
        return first, last
    parts = name.split()
    if not parts:
        return "", ""
    if len(parts) == 1:
        return parts[0], ""
    return " ".join(parts[:-1]), parts[-1]


def timezone_problem(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a name too long
        return f"unknown timezone {value!r} (use a name like America/New_York)"
    return None


def _applicant_reasons(cells: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    reasons: list[tuple[str, str]] = []
    values = dict(cells)
    if "name" in cells and not (cells.get("first_name") or cells.get("last_name")):
        values["first_name"], values["last_name"] = split_full_name(cells["name"])
    if not (values.get("first_name") or values.get("last_name")):
        reasons.append(("name", "missing name"))
    for column, limit in APPLICANT_LIMITS.items():
        if len(values.get(column, "")) > limit:
            reasons.append((column, f"{column} longer than {limit} characters"))
    if (aamc := values.get("aamc_id")) and not AAMC_PATTERN.match(aamc):
        reasons.append(("aamc_id", f"AAMC ID {aamc!r} must be digits only"))
    if (phone := values.get("phone")) and not PHONE_PATTERN.match(phone):
        reasons.append(("phone", f"bad phone number {phone!r}"))
    if (tz := values.get("timezone")) and (problem := timezone_problem(tz)):
        reasons.append(("timezone", problem))
    status = values.get("status", "").lower().replace(" ", "_")
    if status and status not in APPLICANT_STATUSES:
        reasons.append(
            ("status", f"bad status {values['status']!r} (use {', '.join(APPLICANT_STATUSES)})")
        )
    values["status"] = status
    return reasons, values


def parse_applicants(text: str) -> Parsed[ApplicantRow]:
    parsed: Parsed[ApplicantRow] = Parsed()
    first_seen: dict[str, int] = {}
    for line, cells in _records(text, APPLICANT_COLUMNS, _applicant_header_problem, parsed):
        reasons, values = _applicant_reasons(cells)
        email = normalize_email(values["email"])
        if problem := email_problem(email):
            reasons.insert(0, ("email", problem))
        elif email in first_seen:
            reasons.insert(
                0, ("email", f"duplicate email {email} (also on line {first_seen[email]})")
            )
        else:
            first_seen[email] = line
        if reasons:
            parsed.problems.extend(RowProblem(line, f, r) for f, r in reasons)
            continue
        parsed.rows.append(
            ApplicantRow(
                line=line,
                email=email,
                first_name=values.get("first_name", ""),
                last_name=values.get("last_name", ""),
                medical_school=values.get("medical_school") or None,
                aamc_id=values.get("aamc_id") or None,
                phone=values.get("phone") or None,
                timezone=values.get("timezone") or None,
                status=values["status"] or None,
            )
        )
    return parsed


def _applicant_header_problem(columns: set[str]) -> str | None:
    missing = []
    if "email" not in columns:
        missing.append("email")
    if "name" not in columns and not {"first_name", "last_name"} <= columns:
        missing.append("name (or first_name and last_name)")
    return f"missing column(s): {', '.join(missing)}" if missing else None
