"""Program setup: staff accounts and roles, applicants (import, search, status, PDFs, delete)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from portal.audit import record
from portal.csv_import import (
    ApplicantRow,
    RowProblem,
    StaffRow,
    email_problem,
    normalize_email,
    parse_applicants,
    parse_staff,
)
from portal.models import APPLICANT_STATUSES, ROLES, Applicant, Booking, Staff
from portal.permissions import Actor, allowed

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000
MAX_BULK = 5_000
PdfKind = Literal["full", "limited"]
SortKey = Literal["name", "status", "created"]
NO_SESSION = "none"  # the session filter value for "not booked anywhere"

# Staff -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewStaff:
    name: str
    email: str
    role: str


def _check_role(actor: Actor, role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}; use {', '.join(ROLES)}.", field="role")
    if role == "director" and not allowed(actor, "staff.set_director"):
        raise Forbidden("Only a director can make someone a director.", code="director_only")


async def _taken_emails(scope: ProgramScope, emails: Sequence[str]) -> set[str]:
    # Staff log in by email alone, so an address is unique across all programs; this reads
    # only whether it is taken, never another program's row.
    found = await scope.db.scalars(
        select(func.lower(Staff.email)).where(func.lower(Staff.email).in_(list(emails)))
    )
    return set(found)


async def add_staff(
    scope: ProgramScope, actor: Actor, new: NewStaff, *, password_hash: str | None = None
) -> Staff:
    email = normalize_email(new.email)
    if problem := email_problem(email):
        raise ValidationFailed(problem.capitalize() + ".", field="email")
    name = new.name.strip()
    if not name:
        raise ValidationFailed("Enter a name.", field="name")
    check_text(name, field="name", max_length=200, label="The name")
    _check_role(actor, new.role)
    if await _taken_emails(scope, [email]):
        raise Conflict(
            f"A staff account with the email {email} already exists.",
            field="email",
            code="email_taken",
        )
    staff = scope.add(Staff(name=name, email=email, role=new.role, password_hash=password_hash))
    await scope.db.flush()
    record(scope.db, actor, "staff.create", "staff", staff.id, email=email, role=new.role)
    return staff


async def import_staff(scope: ProgramScope, actor: Actor, text: str) -> list[Staff]:
    """All rows or none; new accounts have no password until one is set."""
    parsed = parse_staff(text)
    taken = await _taken_emails(scope, [row.email for row in parsed.rows])
    for row in parsed.rows:
        if row.email in taken:
            parsed.problems.append(
                RowProblem(row.line, "email", f"a staff account with {row.email} already exists")
            )
        if row.role == "director" and not allowed(actor, "staff.set_director"):
            parsed.problems.append(
                RowProblem(row.line, "role", "only a director can add a director")
            )
    parsed.raise_if_bad()
    created = [_new_staff(scope, row) for row in parsed.rows]
    await scope.db.flush()
    record(scope.db, actor, "staff.import", "staff", None, created=len(created))
    return created


def _new_staff(scope: ProgramScope, row: StaffRow) -> Staff:
    return scope.add(Staff(name=row.name, email=row.email, role=row.role, password_hash=None))


async def _active_directors(scope: ProgramScope) -> int:
    count = await scope.db.scalar(
        select(func.count())
        .select_from(Staff)
        .where(Staff.program_id == scope.program_id, Staff.role == "director", Staff.active)
    )
    return int(count or 0)


async def _guard_director_change(scope: ProgramScope, actor: Actor, staff: Staff) -> None:
    if staff.role == "director" and not allowed(actor, "staff.set_director"):
        raise Forbidden("Only a director can change a director's account.", code="director_only")
    if staff.role == "director" and staff.active and await _active_directors(scope) <= 1:
        raise Conflict(
            f"{staff.name} is the last active director; make someone else a director first.",
            code="last_director",
        )


async def set_staff_role(scope: ProgramScope, actor: Actor, staff_id: str, role: str) -> Staff:
    staff = await scope.get(Staff, staff_id, what="staff member")
    _check_role(actor, role)
    if role == staff.role:
        return staff
    if staff.id == actor.id:
        raise Conflict("You cannot change your own role; ask another director.", code="self")
    await _guard_director_change(scope, actor, staff)
    record(scope.db, actor, "staff.role", "staff", staff.id, old=staff.role, new=role)
    staff.role = role
    return staff


async def set_staff_active(scope: ProgramScope, actor: Actor, staff_id: str, active: bool) -> Staff:
    staff = await scope.get(Staff, staff_id, what="staff member")
    if staff.active == active:
        return staff
    if not active:
        if staff.id == actor.id:
            raise Conflict("You cannot deactivate your own account.", code="self")
        await _guard_director_change(scope, actor, staff)
    elif staff.role == "director" and not allowed(actor, "staff.set_director"):
        raise Forbidden("Only a director can reactivate a director.", code="director_only")
    staff.active = active
    action = "staff.reactivate" if active else "staff.deactivate"
    record(scope.db, actor, action, "staff", staff.id, old=not active, new=active)
    return staff


# Applicants: import ------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


MERGED_FIELDS = ("first_name", "last_name", "medical_school", "aamc_id", "phone", "timezone")


async def import_applicants(scope: ProgramScope, actor: Actor, text: str) -> ImportResult:
    """Adds new applicants and updates known ones (same email, any case); all rows or none."""
    parsed = parse_applicants(text)
    parsed.raise_if_bad()
    existing = {
        applicant.email.lower(): applicant
        for applicant in await scope.all(
            Applicant, func.lower(Applicant.email).in_([row.email for row in parsed.rows])
        )
    }
    created = updated = 0
    for row in parsed.rows:
        known = existing.get(row.email)
        if known is None:
            scope.add(_new_applicant(row))
            created += 1
        elif _merge(scope, actor, known, row):
            updated += 1
    await scope.db.flush()
    result = ImportResult(created, updated, len(parsed.rows) - created - updated)
    record(
        scope.db, actor, "applicants.import", "applicant", None, created=created, updated=updated
    )
    return result


def _new_applicant(row: ApplicantRow) -> Applicant:
    return Applicant(
        email=row.email,
        status=row.status or "candidate",
        first_name=row.first_name,
        last_name=row.last_name,
        medical_school=row.medical_school,
        aamc_id=row.aamc_id,
        phone=row.phone,
        timezone=row.timezone,
    )


def _merge(scope: ProgramScope, actor: Actor, applicant: Applicant, row: ApplicantRow) -> bool:
    # An empty cell keeps what we know: a sparse file never erases data.
    changed = False
    for name in MERGED_FIELDS:
        value = getattr(row, name)
        if value and getattr(applicant, name) != value:
            setattr(applicant, name, value)
            changed = True
    if row.status and row.status != applicant.status:
        record(
            scope.db,
            actor,
            "applicant.status",
            "applicant",
            applicant.id,
            old=applicant.status,
            new=row.status,
            via="import",
        )
        applicant.status = row.status
        changed = True
    return changed


# Applicants: the list ----------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicantQuery:
    text: str = ""
    status: str | None = None
    session_id: str | None = None
    sort: SortKey = "name"
    descending: bool = False
    page: int = 1
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class ApplicantPage:
    rows: list[Applicant]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(scope: ProgramScope, query: ApplicantQuery) -> Select[tuple[Applicant]]:
    statement = scope.select(Applicant)
    if text := query.text.strip():
        pattern = _like(text)
        columns: list[InstrumentedAttribute[str] | InstrumentedAttribute[str | None]] = [
            Applicant.first_name,
            Applicant.last_name,
            Applicant.email,
            Applicant.medical_school,
            Applicant.aamc_id,
        ]
        full_name = func.lower(Applicant.first_name + " " + Applicant.last_name)
        statement = statement.where(
            or_(
                full_name.like(pattern, escape="\\"),
                *(func.lower(c).like(pattern, escape="\\") for c in columns),
            )
        )
    if query.status:
        check_status(query.status)
        statement = statement.where(Applicant.status == query.status)
    if query.session_id == NO_SESSION:
        statement = statement.where(~exists().where(Booking.applicant_id == Applicant.id))
    elif query.session_id:
        statement = statement.where(
            exists().where(
                Booking.applicant_id == Applicant.id, Booking.session_id == query.session_id
            )
        )
    return statement


async def search_applicants(scope: ProgramScope, query: ApplicantQuery) -> ApplicantPage:
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"page_size must be 1 to {MAX_PAGE_SIZE}.", field="page_size")
    if not 1 <= query.page <= MAX_PAGE:
        raise ValidationFailed(f"page must be 1 to {MAX_PAGE}.", field="page")
    statement = _filtered(scope, query)
    total = await scope.db.scalar(select(func.count()).select_from(statement.subquery()))
    orders = {
        "name": (func.lower(Applicant.last_name), func.lower(Applicant.first_name)),
        "status": (Applicant.status, func.lower(Applicant.last_name)),
        "created": (Applicant.created_at,),
    }[query.sort]
    ordered = [c.desc() if query.descending else c.asc() for c in orders]
    page = max(1, query.page)
    rows = await scope.db.scalars(
        statement.order_by(*ordered, Applicant.id)
        .limit(query.page_size)
        .offset((page - 1) * query.page_size)
    )
    return ApplicantPage(list(rows), int(total or 0), page, query.page_size)


# Applicants: status, delete, PDFs ----------------------------------------------------------


async def applicants_by_id(scope: ProgramScope, applicant_ids: Sequence[str]) -> list[Applicant]:
    """The applicants in the order given; any id unknown in this program is a 404."""
    wanted = list(dict.fromkeys(applicant_ids))
    if not wanted:
        raise ValidationFailed("Choose at least one applicant.", field="applicant_ids")
    if len(wanted) > MAX_BULK:
        raise ValidationFailed(f"At most {MAX_BULK} applicants at once.", field="applicant_ids")
    found = {a.id: a for a in await scope.all(Applicant, Applicant.id.in_(wanted))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"No applicant with id {missing[0]!r}", field="applicant_ids")
    return [found[i] for i in wanted]


def check_status(status: str) -> None:
    if status not in APPLICANT_STATUSES:
        raise ValidationFailed(
            f"Unknown status {status!r}; use {', '.join(APPLICANT_STATUSES)}.", field="status"
        )


def set_status(scope: ProgramScope, actor: Actor, applicant: Applicant, status: str) -> bool:
    """Changes one applicant's status and records it; False when it already was."""
    check_status(status)
    if applicant.status == status:
        return False
    record(
        scope.db,
        actor,
        "applicant.status",
        "applicant",
        applicant.id,
        old=applicant.status,
        new=status,
    )
    applicant.status = status
    return True


async def change_statuses(
    scope: ProgramScope, actor: Actor, applicant_ids: Sequence[str], status: str
) -> int:
    """Sets many applicants' status at once; returns how many changed."""
    check_status(status)
    applicants = await applicants_by_id(scope, applicant_ids)
    return sum(set_status(scope, actor, a, status) for a in applicants)


async def delete_applicant(scope: ProgramScope, actor: Actor, applicant_id: str) -> Applicant:
    applicant = await scope.get(Applicant, applicant_id, what="applicant")
    booked = await scope.db.scalar(
        select(func.count()).select_from(Booking).where(Booking.applicant_id == applicant.id)
    )
    if booked:
        raise Conflict(
            f"{applicant.display_name} has a booking in a session; remove the booking first.",
            code="has_booking",
        )
    record(
        scope.db,
        actor,
        "applicant.delete",
        "applicant",
        applicant.id,
        email=applicant.email,
        name=applicant.display_name,
    )
    await scope.db.delete(applicant)
    return applicant


MAX_PDF_BYTES = 20 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


def pdf_problem(head: bytes, size: int) -> str | None:
    """Why these bytes are not an acceptable application PDF (None when they are)."""
    if size == 0:
        return "The file is empty."
    if size > MAX_PDF_BYTES:
        return f"The file is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB."
    if not head.startswith(PDF_MAGIC):
        return "The file is not a PDF."
    return None


def attach_pdf(
    scope: ProgramScope, actor: Actor, applicant: Applicant, kind: PdfKind, stored_name: str
) -> str | None:
    """Points the applicant at a stored PDF; returns the file it replaces (to remove)."""
    column = "application_pdf" if kind == "full" else "limited_pdf"
    previous: str | None = getattr(applicant, column)
    setattr(applicant, column, stored_name)
    record(scope.db, actor, f"applicant.pdf_{kind}", "applicant", applicant.id, file=stored_name)
    return previous
