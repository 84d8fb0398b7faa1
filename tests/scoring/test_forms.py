"""Scoring forms, the pure rules: validation, normalization, the versioning decision, moves."""

import math

import pytest

from core.errors import ValidationFailed
from scoring.forms import (
    FormSpec,
    ItemSpec,
    copy_name,
    decide_save,
    moved,
    normalized,
    validate_form,
)

RATING = ItemSpec(kind="rating", label="Communication")


def form(*items: ItemSpec, name: str = "Interview") -> FormSpec:
    return FormSpec(name=name, description=None, items=items or (RATING,))


def failure(spec: FormSpec) -> tuple[str | None, str]:
    with pytest.raises(ValidationFailed) as caught:
        validate_form(spec)
    return caught.value.field, caught.value.message


def test_defaults_are_a_one_to_five_scale_with_weight_one() -> None:
    assert (RATING.scale_min, RATING.scale_max, RATING.weight, RATING.required) == (
        1,
        5,
        1.0,
        False,
    )


def test_a_valid_form_comes_back_trimmed() -> None:
    spec = FormSpec(
        "  Interview ",
        "  ",
        (ItemSpec(kind="rating", label=" Fit ", help_text=" "),),
    )
    cleaned = validate_form(spec)
    assert cleaned.name == "Interview" and cleaned.description is None
    assert cleaned.items[0].label == "Fit" and cleaned.items[0].help_text is None


def test_non_rating_items_carry_no_weight_or_scale() -> None:
    spec = normalized(form(ItemSpec(kind="yes_no", label="Again?", scale_max=99, weight=7)))
    item = spec.items[0]
    assert (item.scale_min, item.scale_max, item.weight) == (1, 5, 0.0)
    validate_form(form(ItemSpec(kind="comment", label="Notes", weight=-3)))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (form(name=" "), "name"),
        (form(name="x" * 201), "name"),
        (FormSpec("A", "x" * 4001, (RATING,)), "description"),
        (FormSpec("A", None, ()), "items"),
        (FormSpec("A", None, (RATING,) * 101), "items"),
        (form(RATING, ItemSpec(kind="slider", label="x")), "items.1.kind"),
        (form(ItemSpec(kind="comment", label="  ")), "items.0.label"),
        (form(ItemSpec(kind="rating", label="x" * 301)), "items.0.label"),
        (form(ItemSpec(kind="rating", label="x", help_text="h" * 2001)), "items.0.help_text"),
        (form(ItemSpec(kind="rating", label="x", scale_min=-1)), "items.0.scale_min"),
        (form(ItemSpec(kind="rating", label="x", scale_max=11)), "items.0.scale_max"),
        (form(ItemSpec(kind="rating", label="x", scale_min=3, scale_max=3)), "items.0.scale_max"),
        (form(ItemSpec(kind="rating", label="x", scale_min=4, scale_max=2)), "items.0.scale_max"),
        (form(ItemSpec(kind="rating", label="x", weight=0)), "items.0.weight"),
        (form(ItemSpec(kind="rating", label="x", weight=-1)), "items.0.weight"),
        (form(ItemSpec(kind="rating", label="x", weight=math.nan)), "items.0.weight"),
        (form(ItemSpec(kind="rating", label="x", weight=math.inf)), "items.0.weight"),
        (form(ItemSpec(kind="rating", label="x", weight=100.5)), "items.0.weight"),
    ],
)
def test_invalid_forms_name_the_field(spec: FormSpec, field: str) -> None:
    assert failure(spec)[0] == field


def test_the_widest_scale_is_zero_to_ten() -> None:
    validate_form(form(ItemSpec(kind="rating", label="x", scale_min=0, scale_max=10, weight=100)))


def test_messages_count_items_from_one() -> None:
    field, message = failure(form(RATING, ItemSpec(kind="rating", label="")))
    assert field == "items.1.label" and message == "Item 2: give it a label."


@pytest.mark.parametrize(
    ("changed", "scores", "outcome"),
    [
        (False, 0, "unchanged"),
        (False, 3, "unchanged"),
        (True, 0, "in_place"),
        (True, 1, "new_version"),
        (True, 250, "new_version"),
    ],
)
def test_scored_forms_are_never_changed_in_place(changed: bool, scores: int, outcome: str) -> None:
    assert decide_save(changed=changed, score_count=scores) == outcome


def test_moving_items() -> None:
    a, b, c = (ItemSpec(kind="comment", label=x) for x in "abc")
    assert moved([a, b, c], 2, -1) == (a, c, b)
    assert moved([a, b, c], 0, 1) == (b, a, c)
    assert moved([a, b, c], 0, -1) == (a, b, c)
    assert moved([a, b, c], 2, 1) == (a, b, c)
    assert moved([a, b, c], 7, -1) == (a, b, c)


def test_copy_names_stay_within_the_limit() -> None:
    assert copy_name("Core") == "Copy of Core"
    assert len(copy_name("x" * 200)) == 200
