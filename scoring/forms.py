"""The scoring-form library: validation, versioning and copies.

A form that has scores is never changed under them. Saving it makes a new version (a new
`ScoringForm` row in the same family, `version + 1`, `is_current` moves to it); the old version
keeps its items, so every score still reads against the items it was given on. A form without
scores is edited in place. Rooms keep pointing at the version they were given until someone
re-points them: a session in progress never changes form under its interviewers, and every
score of one room stays comparable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import delete, func, select

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from scoring.models import ITEM_KINDS, Score, ScoringForm, ScoringItem

NAME_MAX = 200
LABEL_MAX = 300
HELP_MAX = 2000
DESCRIPTION_MAX = 4000
SCALE_FLOOR = 0
SCALE_CEILING = 10
WEIGHT_MAX = 100.0
ITEMS_MAX = 100
# Yes/no and comment items carry no number into the score; weight 0 says so in the database.
UNWEIGHTED = 0.0

SaveOutcome = Literal["unchanged", "in_place", "new_version"]


@dataclass(frozen=True)
class ItemSpec:
    kind: str
    label: str
    help_text: str | None = None
    scale_min: int = 1
    scale_max: int = 5
    weight: float = 1.0
    required: bool = False


@dataclass(frozen=True)
class FormSpec:
    name: str
    description: str | None
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class FormWithItems:
    form: ScoringForm
    items: list[ScoringItem]
    score_count: int


@dataclass(frozen=True)
class SaveResult:
    form: ScoringForm
    outcome: SaveOutcome
    previous_id: str | None


# --- pure rules -------------------------------------------------------------------------------


def _clean(text: str | None) -> str | None:
    stripped = (text or "").strip()
    return stripped or None


def normalized(spec: FormSpec) -> FormSpec:
    """Trims text and gives non-rating items the neutral scale and weight they are stored with."""
    items = []
    for item in spec.items:
        cleaned = replace(item, label=item.label.strip(), help_text=_clean(item.help_text))
        if cleaned.kind != "rating":
            cleaned = replace(cleaned, scale_min=1, scale_max=5, weight=UNWEIGHTED)
        items.append(cleaned)
    return FormSpec(spec.name.strip(), _clean(spec.description), tuple(items))


def validate_form(spec: FormSpec) -> FormSpec:
    """Returns the normalized spec, or raises `ValidationFailed` naming the first bad field."""
    spec = normalized(spec)
    if not spec.name:
        raise ValidationFailed("Give the form a name.", field="name")
    if len(spec.name) > NAME_MAX:
        raise ValidationFailed(f"Keep the name under {NAME_MAX} characters.", field="name")
    if spec.description and len(spec.description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            f"Keep the description under {DESCRIPTION_MAX} characters.", field="description"
        )
    check_text(spec.name, field="name", max_length=NAME_MAX, label="The name")
    check_text(
        spec.description or "",
        field="description",
        max_length=DESCRIPTION_MAX,
        multiline=True,
        label="The description",
    )
    if not spec.items:
        raise ValidationFailed("Add at least one item.", field="items")
    if len(spec.items) > ITEMS_MAX:
        raise ValidationFailed(f"A form holds at most {ITEMS_MAX} items.", field="items")
    for index, item in enumerate(spec.items):
        _validate_item(index, item)
    return spec


def _validate_item(index: int, item: ItemSpec) -> None:
    where = f"items.{index}"
    number = index + 1
    if item.kind not in ITEM_KINDS:
        raise ValidationFailed(
            f"Item {number}: the kind must be one of {', '.join(ITEM_KINDS)}.",
            field=f"{where}.kind",
        )
    if not item.label:
        raise ValidationFailed(f"Item {number}: give it a label.", field=f"{where}.label")
    if len(item.label) > LABEL_MAX:
        raise ValidationFailed(
            f"Item {number}: keep the label under {LABEL_MAX} characters.", field=f"{where}.label"
        )
    if item.help_text and len(item.help_text) > HELP_MAX:
        raise ValidationFailed(
            f"Item {number}: keep the help text under {HELP_MAX} characters.",
            field=f"{where}.help_text",
        )
    check_text(item.label, field=f"{where}.label", max_length=LABEL_MAX, label=f"Item {number}")
    check_text(
        item.help_text or "",
        field=f"{where}.help_text",
        max_length=HELP_MAX,
        multiline=True,
        label=f"Item {number}'s help text",
    )
    if item.kind != "rating":
        return
    if item.scale_min < SCALE_FLOOR:
        raise ValidationFailed(
            f"Item {number}: the scale starts at {SCALE_FLOOR} or above.",
            field=f"{where}.scale_min",
        )
    if item.scale_max > SCALE_CEILING:
        raise ValidationFailed(
            f"Item {number}: the scale ends at {SCALE_CEILING} or below.",
            field=f"{where}.scale_max",
        )
    if item.scale_min >= item.scale_max:
        raise ValidationFailed(
            f"Item {number}: the scale's lowest value must be below its highest.",
            field=f"{where}.scale_max",
        )
    if not (math.isfinite(item.weight) and 0 < item.weight <= WEIGHT_MAX):
        raise ValidationFailed(
            f"Item {number}: the weight must be above 0 and at most {WEIGHT_MAX:g}.",
            field=f"{where}.weight",
        )


def decide_save(*, changed: bool, score_count: int) -> SaveOutcome:
    """The versioning rule: scored forms are never changed in place."""
    if not changed:
        return "unchanged"
    return "new_version" if score_count > 0 else "in_place"


def moved(items: Sequence[ItemSpec], index: int, offset: int) -> tuple[ItemSpec, ...]:
    """The items with one moved by `offset` places; out-of-range moves leave the order alone."""
    target = index + offset
    if not (0 <= index < len(items) and 0 <= target < len(items)):
        return tuple(items)
    reordered = list(items)
    reordered[index], reordered[target] = reordered[target], reordered[index]
    return tuple(reordered)


def spec_of(form: ScoringForm, items: Sequence[ScoringItem]) -> FormSpec:
    return FormSpec(
        name=form.name,
        description=form.description,
        items=tuple(
            ItemSpec(
                kind=item.kind,
                label=item.label,
                help_text=item.help_text,
                scale_min=item.scale_min,
                scale_max=item.scale_max,
                weight=item.weight,
                required=item.required,
            )
            for item in items
        ),
    )


def copy_name(name: str) -> str:
    return f"Copy of {name}"[:NAME_MAX]


# --- the library --------------------------------------------------------------------------------


async def list_forms(scope: ProgramScope, *, include_archived: bool = False) -> list[ScoringForm]:
    criteria = [ScoringForm.is_current.is_(True)]
    if not include_archived:
        criteria.append(ScoringForm.archived.is_(False))
    statement = scope.select(ScoringForm, *criteria).order_by(ScoringForm.name, ScoringForm.id)
    return list((await scope.db.scalars(statement)).all())


async def items_of(scope: ProgramScope, form_id: str) -> list[ScoringItem]:
    statement = scope.select(ScoringItem, ScoringItem.form_id == form_id).order_by(
        ScoringItem.position
    )
    return list((await scope.db.scalars(statement)).all())


async def score_counts(scope: ProgramScope, form_ids: Sequence[str]) -> dict[str, int]:
    if not form_ids:
        return {}
    statement = (
        scope.select(Score, Score.form_id.in_(form_ids))
        .with_only_columns(Score.form_id, func.count())
        .group_by(Score.form_id)
    )
    return dict((await scope.db.execute(statement)).tuples().all())


async def item_counts(scope: ProgramScope, form_ids: Sequence[str]) -> dict[str, int]:
    if not form_ids:
        return {}
    statement = (
        scope.select(ScoringItem, ScoringItem.form_id.in_(form_ids))
        .with_only_columns(ScoringItem.form_id, func.count())
        .group_by(ScoringItem.form_id)
    )
    return dict((await scope.db.execute(statement)).tuples().all())


async def load_form(scope: ProgramScope, form_id: str) -> FormWithItems:
    form = await scope.get(ScoringForm, form_id, what="scoring form")
    counts = await score_counts(scope, [form.id])
    return FormWithItems(form, await items_of(scope, form.id), counts.get(form.id, 0))


async def versions_of(scope: ProgramScope, form_id: str) -> list[ScoringForm]:
    form = await scope.get(ScoringForm, form_id, what="scoring form")
    statement = scope.select(ScoringForm, ScoringForm.family_id == form.family_id).order_by(
        ScoringForm.version.desc()
    )
    return list((await scope.db.scalars(statement)).all())


async def create_form(scope: ProgramScope, spec: FormSpec) -> ScoringForm:
    return await _insert(scope, validate_form(spec))


async def _insert(scope: ProgramScope, spec: FormSpec) -> ScoringForm:
    form = scope.add(ScoringForm(family_id="", version=1, name=spec.name))
    form.description = spec.description
    form.is_current = True
    form.archived = False
    await scope.db.flush()
    form.family_id = form.id
    _add_items(scope, form.id, spec.items)
    await scope.db.flush()
    return form


def _add_items(scope: ProgramScope, form_id: str, items: Sequence[ItemSpec]) -> None:
    for position, item in enumerate(items):
        scope.add(
            ScoringItem(
                form_id=form_id,
                position=position,
                kind=item.kind,
                label=item.label,
                help_text=item.help_text,
                scale_min=item.scale_min,
                scale_max=item.scale_max,
                weight=item.weight,
                required=item.required,
            )
        )


async def _locked_form(scope: ProgramScope, form_id: str) -> ScoringForm:
    # Row lock (PostgreSQL) so two saves of a scored form cannot both make "version N + 1".
    form = await scope.get(ScoringForm, form_id, what="scoring form")
    await scope.db.execute(
        select(ScoringForm.id).where(ScoringForm.id == form.id).with_for_update()
    )
    await scope.db.refresh(form)
    return form


def _require_editable(form: ScoringForm) -> None:
    if not form.is_current:
        raise Conflict(
            f"This is version {form.version}, not the current one. Edit the current version.",
            field="id",
            code="not_current",
        )
    if form.archived:
        raise Conflict("This form is archived. Restore it before editing.", code="archived")


async def save_form(scope: ProgramScope, form_id: str, spec: FormSpec) -> SaveResult:
    spec = validate_form(spec)
    form = await _locked_form(scope, form_id)
    _require_editable(form)
    items = await items_of(scope, form.id)
    changed = normalized(spec_of(form, items)) != spec
    scores = (await score_counts(scope, [form.id])).get(form.id, 0)
    outcome = decide_save(changed=changed, score_count=scores)
    if outcome == "unchanged":
        return SaveResult(form, outcome, None)
    if outcome == "in_place":
        form.name = spec.name
        form.description = spec.description
        await scope.db.execute(delete(ScoringItem).where(ScoringItem.form_id == form.id))
        _add_items(scope, form.id, spec.items)
        await scope.db.flush()
        return SaveResult(form, outcome, None)
    form.is_current = False
    successor = scope.add(
        ScoringForm(
            family_id=form.family_id,
            version=form.version + 1,
            name=spec.name,
            description=spec.description,
            is_current=True,
            archived=False,
        )
    )
    await scope.db.flush()
    _add_items(scope, successor.id, spec.items)
    await scope.db.flush()
    return SaveResult(successor, outcome, form.id)


async def copy_form(scope: ProgramScope, form_id: str, name: str | None = None) -> ScoringForm:
    """A new family, version 1, with the same items: changing it never touches the original.

    The copy is made as it is, without validation: a form saved before today's rules (an empty
    one, say) still copies, and the rules apply when the copy is next saved.
    """
    source = await load_form(scope, form_id)
    spec = spec_of(source.form, source.items)
    new_name = (name or "").strip() or copy_name(source.form.name)
    check_text(new_name, field="name", max_length=NAME_MAX, label="The name")
    return await _insert(scope, normalized(replace(spec, name=new_name)))


async def set_archived(scope: ProgramScope, form_id: str, archived: bool) -> ScoringForm:
    """Archiving hides the whole family from the library; scores and rooms keep their version."""
    form = await scope.get(ScoringForm, form_id, what="scoring form")
    for version in await scope.all(ScoringForm, ScoringForm.family_id == form.family_id):
        version.archived = archived
    await scope.db.flush()
    return form
