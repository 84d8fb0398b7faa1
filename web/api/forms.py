"""Scoring forms: a versioned library. A form with scores is never changed: saving it makes a
new version, and the answer says so."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func

from portal.audit import record
from rooms.models import Room
from scoring import forms
from web.api.fields import LongText, ShortText, SingleLine
from web.api.framework import Api, Call

api = Api()
TAGS = ("forms",)


class ItemIn(BaseModel):
    kind: Literal["rating", "yes_no", "comment"]
    label: ShortText
    help_text: LongText | None = None
    scale_min: int = Field(1, ge=-1000, le=1000)
    scale_max: int = Field(5, ge=-1000, le=1000)
    weight: float = Field(1.0, ge=-1000, le=1000)
    required: bool = False

    def spec(self) -> forms.ItemSpec:
        return forms.ItemSpec(
            kind=self.kind,
            label=self.label,
            help_text=self.help_text,
            scale_min=self.scale_min,
            scale_max=self.scale_max,
            weight=self.weight,
            required=self.required,
        )


class FormIn(BaseModel):
    name: ShortText
    description: LongText | None = None
    items: list[ItemIn] = Field(max_length=1000)

    def spec(self) -> forms.FormSpec:
        return forms.FormSpec(self.name, self.description, tuple(i.spec() for i in self.items))


class CopyIn(BaseModel):
    name: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=forms.NAME_MAX), SingleLine
        ]
        | None
    ) = None


class ListQuery(BaseModel):
    include_archived: bool = False


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    position: int
    kind: str
    label: str
    help_text: str | None
    scale_min: int
    scale_max: int
    weight: float
    required: bool


class FormSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    family_id: str
    version: int
    name: str
    description: str | None
    is_current: bool
    archived: bool
    created_at: datetime


class FormListEntryOut(FormSummaryOut):
    item_count: int
    score_count: int


class FormOut(FormSummaryOut):
    items: list[ItemOut]
    score_count: int
    rooms_using: int


class SaveOut(BaseModel):
    form: FormOut
    outcome: Literal["unchanged", "in_place", "new_version"]
    new_version: bool
    previous_id: str | None
    rooms_on_previous_version: int


async def _rooms_using(call: Call, form_id: str) -> int:
    statement = (
        call.scope.select(Room, Room.scoring_form_id == form_id)
        .with_only_columns(func.count())
        .order_by(None)
    )
    return int(await call.db.scalar(statement) or 0)


async def _form_out(call: Call, form_id: str) -> FormOut:
    loaded = await forms.load_form(call.scope, form_id)
    summary = FormSummaryOut.model_validate(loaded.form)
    return FormOut(
        **summary.model_dump(),
        items=[ItemOut.model_validate(i) for i in loaded.items],
        score_count=loaded.score_count,
        rooms_using=await _rooms_using(call, loaded.form.id),
    )


@api.route(
    "GET",
    "/forms",
    summary="List the library: the current version of each form",
    tags=TAGS,
    permission="forms.read",
    query=ListQuery,
    response=list[FormListEntryOut],
    cache=True,
)
async def list_forms(call: Call) -> list[FormListEntryOut]:
    rows = await forms.list_forms(call.scope, include_archived=call.query.include_archived)
    ids = [f.id for f in rows]
    scores = await forms.score_counts(call.scope, ids)
    items = await forms.item_counts(call.scope, ids)
    return [
        FormListEntryOut(
            **FormSummaryOut.model_validate(f).model_dump(),
            item_count=items.get(f.id, 0),
            score_count=scores.get(f.id, 0),
        )
        for f in rows
    ]


@api.route(
    "POST",
    "/forms",
    summary="Create a scoring form with its items",
    tags=TAGS,
    permission="forms.write",
    body=FormIn,
    response=FormOut,
    status=201,
)
async def create_form(call: Call) -> FormOut:
    form = await forms.create_form(call.scope, call.body.spec())
    record(call.db, call.staff, "form.create", "scoring_form", form.id, name=form.name)
    return await _form_out(call, form.id)


@api.route(
    "GET",
    "/forms/{form_id}",
    summary="One scoring form version, with its items",
    tags=TAGS,
    permission="forms.read",
    response=FormOut,
)
async def get_form(call: Call) -> FormOut:
    return await _form_out(call, call.path("form_id"))


@api.route(
    "PUT",
    "/forms/{form_id}",
    summary="Replace a form's name, description and items (a new version if it has scores)",
    tags=TAGS,
    permission="forms.write",
    body=FormIn,
    response=SaveOut,
)
async def update_form(call: Call) -> SaveOut:
    result = await forms.save_form(call.scope, call.path("form_id"), call.body.spec())
    if result.outcome != "unchanged":
        record(
            call.db,
            call.staff,
            "form.version" if result.outcome == "new_version" else "form.update",
            "scoring_form",
            result.form.id,
            previous_id=result.previous_id,
            version=result.form.version,
        )
    previous_rooms = 0
    if result.previous_id is not None:
        previous_rooms = await _rooms_using(call, result.previous_id)
    return SaveOut(
        form=await _form_out(call, result.form.id),
        outcome=result.outcome,
        new_version=result.outcome == "new_version",
        previous_id=result.previous_id,
        rooms_on_previous_version=previous_rooms,
    )


@api.route(
    "POST",
    "/forms/{form_id}/copy",
    summary="Copy a form into a new, independent form",
    tags=TAGS,
    permission="forms.write",
    body=CopyIn,
    response=FormOut,
    status=201,
)
async def copy_form(call: Call) -> FormOut:
    form = await forms.copy_form(call.scope, call.path("form_id"), call.body.name)
    record(
        call.db, call.staff, "form.copy", "scoring_form", form.id, source_id=call.path("form_id")
    )
    return await _form_out(call, form.id)


async def _set_archived(call: Call, archived: bool) -> FormOut:
    form = await forms.set_archived(call.scope, call.path("form_id"), archived)
    action = "form.archive" if archived else "form.restore"
    record(call.db, call.staff, action, "scoring_form", form.id)
    return await _form_out(call, form.id)


@api.route(
    "POST",
    "/forms/{form_id}/archive",
    summary="Archive a form (all its versions leave the library; scores keep them)",
    tags=TAGS,
    permission="forms.write",
    response=FormOut,
)
async def archive_form(call: Call) -> FormOut:
    return await _set_archived(call, True)


@api.route(
    "POST",
    "/forms/{form_id}/restore",
    summary="Bring an archived form back into the library",
    tags=TAGS,
    permission="forms.write",
    response=FormOut,
)
async def restore_form(call: Call) -> FormOut:
    return await _set_archived(call, False)


@api.route(
    "GET",
    "/forms/{form_id}/versions",
    summary="Every version of this form, newest first",
    tags=TAGS,
    permission="forms.read",
    response=list[FormListEntryOut],
)
async def list_versions(call: Call) -> list[FormListEntryOut]:
    rows = await forms.versions_of(call.scope, call.path("form_id"))
    ids = [f.id for f in rows]
    scores = await forms.score_counts(call.scope, ids)
    items = await forms.item_counts(call.scope, ids)
    return [
        FormListEntryOut(
            **FormSummaryOut.model_validate(f).model_dump(),
            item_count=items.get(f.id, 0),
            score_count=scores.get(f.id, 0),
        )
        for f in rows
    ]
