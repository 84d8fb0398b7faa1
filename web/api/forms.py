"""Scoring forms: a versioned library."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from scoring.models import ScoringForm
from web.api.framework import Api, Call

api = Api()


class FormOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    family_id: str
    version: int
    name: str


@api.route(
    "GET",
    "/forms",
    summary="List scoring forms",
    tags=("forms",),
    permission="forms.read",
    response=list[FormOut],
)
async def list_forms(call: Call) -> list[ScoringForm]:
    return await call.scope.all(ScoringForm, ScoringForm.is_current.is_(True))


@api.route(
    "GET",
    "/forms/{form_id}",
    summary="One scoring form",
    tags=("forms",),
    permission="forms.read",
    response=FormOut,
)
async def get_form(call: Call) -> ScoringForm:
    return await call.scope.get(ScoringForm, call.path("form_id"), what="scoring form")
