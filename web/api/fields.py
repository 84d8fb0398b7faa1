"""Bounded field types for request models: what a program could really need, and no more.

Every string a person sends is stripped at the ends, length-bounded and refused (never silently
cleaned) when it holds a control character (NUL included) or a lone surrogate, which JSON can
encode (`"\\ud800"`) but no database or page can store. Every integer is bounded well inside 64
bits, so a `2**70` never reaches SQL. Import these instead of bare `str`/`int`:

    class RoomIn(BaseModel):
        name: Name
        capacity: Capacity = 1
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

from core.textcheck import control_problem

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
MAX_ITEMS = 10_000
"""Longest list a request may carry (a program's whole applicant list fits)."""


def _single_line(value: str) -> str:
    if problem := control_problem(value):
        raise ValueError(problem)
    return value


def _multi_line(value: str) -> str:
    if problem := control_problem(value, multiline=True):
        raise ValueError(problem)
    return value


def _email(value: str) -> str:
    _single_line(value)
    try:
        # Syntax only: no DNS at request time; `.test` domains are what demos use.
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"is not an email address ({exc})") from None
    return value


SingleLine = AfterValidator(_single_line)
"""Compose your own bound: `Annotated[str, StringConstraints(max_length=50), SingleLine]`."""
MultiLine = AfterValidator(_multi_line)
"""Like SingleLine, allowing newlines and tabs."""


# Strings.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    SingleLine,
]
"""A name of a person, room, form, session...: 1-200 characters on one line."""
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), SingleLine]
"""Like Name, but may be empty."""
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), SingleLine]
"""One line of free text (a label, a search term, a reason): up to 500 characters."""
LongLine = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000), SingleLine]
"""One line of up to 10,000 characters: a hard ceiling for text whose real limit the domain
checks with its own message (a URL, a reason)."""
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000), MultiLine]
"""Free text over several lines (notes, comments, a template body): up to 10,000 characters."""
Token = Annotated[str, StringConstraints(min_length=1, max_length=200), SingleLine]
"""An opaque token or key the server handed out (not stripped: it is compared exactly)."""
RowId = Annotated[str, StringConstraints(max_length=64), SingleLine]
"""The id of a row as the API hands it out (ids are opaque strings; an empty one is left for
the domain to refuse with its own message)."""
Password = Annotated[str, StringConstraints(min_length=1, max_length=1_000)]
"""A password: never stripped, any characters, bounded so hashing cannot be made expensive."""
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
    AfterValidator(_email),
]
"""An email address, syntax checked (domain code normalizes the case)."""

# Numbers.
# For other bounds: `Annotated[int, Field(ge=..., le=...)]` within INT64_MIN..INT64_MAX.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""A row id: positive, within a BIGINT."""
Capacity = Annotated[int, Field(ge=1, le=10_000)]
Rounds = Annotated[int, Field(ge=1, le=100)]
Round = Annotated[int, Field(ge=1, le=100)]
"""One round's number (1-based) inside Rounds."""
Page = Annotated[int, Field(ge=1, le=1_000_000)]
PerPage = Annotated[int, Field(ge=1, le=500)]
Revision = Annotated[int, Field(ge=0, le=INT32_MAX)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
"""A non-negative count of things (slots, places, items)."""
Minutes = Annotated[int, Field(ge=0, le=7 * 24 * 60)]
"""A duration or offset in minutes: at most a week."""
ScoreValue = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
Rank = Annotated[int, Field(ge=1, le=1_000_000)]

# Dates: far enough either way for any interview season, near enough that converting between
# time zones never leaves the years datetime can hold.
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def _within_years(value: datetime) -> datetime:
    if not EARLIEST <= value.date() <= LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


Day = Annotated[date, Field(ge=EARLIEST, le=LATEST)]
"""A calendar date between 2000 and 2199."""
Moment = Annotated[AwareDatetime, AfterValidator(_within_years)]
"""A date and time with its UTC offset, between 2000 and 2199."""
NaiveMoment = Annotated[datetime, AfterValidator(_within_years)]
"""A date and time, offset optional, between 2000 and 2199."""

# Lists.
Ids = Annotated[list[Id], Field(max_length=MAX_ITEMS)]
"""A list of integer ids, at most MAX_ITEMS long."""
RowIds = Annotated[list[RowId], Field(max_length=MAX_ITEMS)]
"""A list of row ids, at most MAX_ITEMS long."""
