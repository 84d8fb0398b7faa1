"""Staff and applicants: accounts and roles, CSV imports, the applicant list, status, delete."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from core.errors import ValidationFailed
from portal import people
from portal.csv_import import decode
from portal.models import Applicant, ApplicantStatus, Role, Staff
from web.api import applicant_files
from web.api.applicant_files import remove_files
from web.api.fields import Email, Name, OptionalName, Page, PerPage, RowId
from web.api.framework import Api, Call
from web.input_guard import unreadable_body_is_400
from web.keys import PASSWORDS

api = Api()
MAX_CSV_BYTES = 5 * 1024 * 1024


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str
    role: str
    active: bool


class StaffCreated(StaffOut):
    initial_password: str | None = Field(
        None, description="Only when generate_password was set; shown this once."
    )


class StaffIn(BaseModel):
    name: Name
    email: Email
    role: Role
    password: str | None = Field(None, min_length=10, max_length=200)
    generate_password: bool = False


class RoleIn(BaseModel):
    role: Role


class StaffImported(BaseModel):
    created: int
    staff: list[StaffOut]


class ApplicantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    first_name: str
    last_name: str
    status: str
    medical_school: str | None
    aamc_id: str | None
    phone: str | None
    timezone: str | None = None
    has_application_pdf: bool = False
    has_limited_pdf: bool = False
    created_at: datetime


def applicant_out(row: Applicant) -> ApplicantOut:
    out = ApplicantOut.model_validate(row)
    out.has_application_pdf = row.application_pdf is not None
    out.has_limited_pdf = row.limited_pdf is not None
    return out


class ApplicantListQuery(BaseModel):
    q: OptionalName = Field("", description="Name, email, medical school or AAMC id")
    status: ApplicantStatus | None = None
    session_id: RowId | None = Field(None, description="A session id, or 'none' for unbooked")
    sort: Literal["name", "status", "created"] = "name"
    order: Literal["asc", "desc"] = "asc"
    page: Page = 1
    page_size: PerPage = people.PAGE_SIZE

    def domain(self) -> people.ApplicantQuery:
        return people.ApplicantQuery(
            text=self.q,
            status=self.status or None,
            session_id=self.session_id or None,
            sort=self.sort,
            descending=self.order == "desc",
            page=self.page,
            page_size=self.page_size,
        )


class StatusIn(BaseModel):
    status: ApplicantStatus


class BulkStatusIn(BaseModel):
    applicant_ids: list[RowId] = Field(min_length=1, max_length=people.MAX_BULK)
    status: ApplicantStatus


class BulkStatusOut(BaseModel):
    changed: int
    unchanged: int


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    total: int


async def csv_text(request: web.Request) -> str:
    """The CSV of an upload: the raw body (text/csv) or the multipart field `file`."""
    if request.content_type == "multipart/form-data":
        with unreadable_body_is_400("upload"):
            data = await _multipart_file(request)
    else:
        data = await request.read()
    if len(data) > MAX_CSV_BYTES:
        raise ValidationFailed("The CSV file is larger than 5 MB.", field="file")
    return decode(data)


async def _multipart_file(request: web.Request) -> bytes:
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name == "file":
            return bytes(await part.read())
    raise ValidationFailed("Send the CSV in a form field named 'file'.", field="file")


# Staff -------------------------------------------------------------------------------------


@api.route(
    "GET",
    "/staff",
    summary="List staff",
    tags=("staff",),
    permission="staff.read",
    response=list[StaffOut],
    cache=True,
)
async def list_staff(call: Call) -> list[Staff]:
    return await call.scope.all(Staff)


@api.route(
    "GET",
    "/staff/{staff_id}",
    summary="One staff member",
    tags=("staff",),
    permission="staff.read",
    response=StaffOut,
)
async def get_staff(call: Call) -> Staff:
    return await call.scope.get(Staff, call.path("staff_id"), what="staff member")


@api.route(
    "POST",
    "/staff",
    summary="Add a staff member (no password, a given one, or a generated one shown once)",
    tags=("staff",),
    permission="staff.manage",
    body=StaffIn,
    response=StaffCreated,
    status=201,
)
async def add_staff(call: Call) -> StaffCreated:
    body: StaffIn = call.body
    password = secrets.token_urlsafe(12) if body.generate_password else body.password
    password_hash = call.request.app[PASSWORDS].hash(password) if password else None
    staff = await people.add_staff(
        call.scope,
        call.staff,
        people.NewStaff(body.name, body.email, body.role),
        password_hash=password_hash,
    )
    created = StaffCreated.model_validate(staff)
    created.initial_password = password if body.generate_password else None
    return created


@api.route(
    "POST",
    "/staff/import",
    summary="Add staff from a CSV (name,email,role): every row valid, or nothing is added",
    tags=("staff",),
    permission="staff.manage",
    response=StaffImported,
    status=201,
)
async def import_staff(call: Call) -> StaffImported:
    created = await people.import_staff(call.scope, call.staff, await csv_text(call.request))
    return StaffImported(created=len(created), staff=[StaffOut.model_validate(s) for s in created])


@api.route(
    "POST",
    "/staff/{staff_id}/role",
    summary="Change a staff member's role (only a director may make a director)",
    tags=("staff",),
    permission="staff.manage",
    body=RoleIn,
    response=StaffOut,
)
async def set_role(call: Call) -> Staff:
    return await people.set_staff_role(
        call.scope, call.staff, call.path("staff_id"), call.body.role
    )


@api.route(
    "POST",
    "/staff/{staff_id}/deactivate",
    summary="Deactivate a staff account (history is kept; they can no longer log in)",
    tags=("staff",),
    permission="staff.manage",
    response=StaffOut,
)
async def deactivate(call: Call) -> Staff:
    return await people.set_staff_active(call.scope, call.staff, call.path("staff_id"), False)


@api.route(
    "POST",
    "/staff/{staff_id}/reactivate",
    summary="Reactivate a staff account",
    tags=("staff",),
    permission="staff.manage",
    response=StaffOut,
)
async def reactivate(call: Call) -> Staff:
    return await people.set_staff_active(call.scope, call.staff, call.path("staff_id"), True)


# Applicants --------------------------------------------------------------------------------

APPLICANT_LIST = TypeAdapter(list[ApplicantOut])


@api.route(
    "GET",
    "/applicants",
    summary="Search, filter, sort and page applicants (X-Total-Count and Link headers)",
    tags=("applicants",),
    permission="applicants.read",
    query=ApplicantListQuery,
    response=list[ApplicantOut],
    cache=True,
)
async def list_applicants(call: Call) -> web.StreamResponse:
    query: ApplicantListQuery = call.query
    page = await people.search_applicants(call.scope, query.domain())
    payload = APPLICANT_LIST.dump_python([applicant_out(a) for a in page.rows], mode="json")
    headers = {
        "X-Total-Count": str(page.total),
        "X-Page": str(page.page),
        "X-Page-Size": str(page.page_size),
        "X-Pages": str(page.pages),
    }
    if page.page < page.pages:
        next_url = call.request.rel_url.update_query(page=page.page + 1)
        headers["Link"] = f'<{next_url}>; rel="next"'
    return web.json_response(payload, headers=headers)


@api.route(
    "GET",
    "/applicants/{applicant_id}",
    summary="One applicant",
    tags=("applicants",),
    permission="applicants.read",
    response=ApplicantOut,
)
async def get_applicant(call: Call) -> ApplicantOut:
    return applicant_out(
        await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    )


@api.route(
    "POST",
    "/applicants/import",
    summary="Import applicants from a CSV; known emails are merged; nothing on any bad row",
    tags=("applicants",),
    permission="applicants.write",
    response=ImportOut,
)
async def import_applicants(call: Call) -> ImportOut:
    text = await csv_text(call.request)
    result = await people.import_applicants(call.scope, call.staff, text)
    return ImportOut(
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        total=result.total,
    )


@api.route(
    "POST",
    "/applicants/status",
    summary="Set the status of many applicants at once (each change is audit-logged)",
    tags=("applicants",),
    permission="applicants.write",
    body=BulkStatusIn,
    response=BulkStatusOut,
)
async def bulk_status(call: Call) -> BulkStatusOut:
    body: BulkStatusIn = call.body
    changed = await people.change_statuses(call.scope, call.staff, body.applicant_ids, body.status)
    return BulkStatusOut(changed=changed, unchanged=len(set(body.applicant_ids)) - changed)


@api.route(
    "POST",
    "/applicants/{applicant_id}/status",
    summary="Set one applicant's status (audit-logged with the old and new status)",
    tags=("applicants",),
    permission="applicants.write",
    body=StatusIn,
    response=ApplicantOut,
)
async def set_status(call: Call) -> ApplicantOut:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    people.set_status(call.scope, call.staff, applicant, call.body.status)
    return applicant_out(applicant)


@api.route(
    "DELETE",
    "/applicants/{applicant_id}",
    summary="Delete an applicant who has no booking (409 has_booking otherwise)",
    tags=("applicants",),
    permission="applicants.write",
)
async def delete_applicant(call: Call) -> None:
    applicant = await people.delete_applicant(call.scope, call.staff, call.path("applicant_id"))
    await call.db.flush()
    await remove_files(call.request.app, applicant)


@api.route(
    "GET",
    "/me/applicant",
    summary="The logged-in applicant's own profile",
    tags=("applicant",),
    auth="applicant",
    response=ApplicantOut,
)
async def my_profile(call: Call) -> ApplicantOut:
    assert call.actor is not None
    return applicant_out(await call.scope.get(Applicant, call.actor.id, what="applicant"))


api.include(applicant_files.api)
