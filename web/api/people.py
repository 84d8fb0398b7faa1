"""Staff and applicants (read side for now; setup flows extend it)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from portal.models import Applicant, Staff
from web.api.framework import Api, Call

api = Api()


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str
    role: str
    active: bool


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
    created_at: datetime


@api.route(
    "GET",
    "/staff",
    summary="List staff",
    tags=("staff",),
    permission="staff.read",
    response=list[StaffOut],
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
    "GET",
    "/applicants",
    summary="List applicants",
    tags=("applicants",),
    permission="applicants.read",
    response=list[ApplicantOut],
)
async def list_applicants(call: Call) -> list[Applicant]:
    return await call.scope.all(Applicant)


@api.route(
    "GET",
    "/applicants/{applicant_id}",
    summary="One applicant",
    tags=("applicants",),
    permission="applicants.read",
    response=ApplicantOut,
)
async def get_applicant(call: Call) -> Applicant:
    return await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")


@api.route(
    "GET",
    "/me/applicant",
    summary="The logged-in applicant's own profile",
    tags=("applicant",),
    auth="applicant",
    response=ApplicantOut,
)
async def my_profile(call: Call) -> Applicant:
    assert call.actor is not None
    return await call.scope.get(Applicant, call.actor.id, what="applicant")
