"""Scores, the pure rules: answers against the form, required items, revisions, sheets."""

import pytest

from core.errors import ValidationFailed
from scoring.models import Score, ScoringItem
from scoring.scores import (
    MissingAnswers,
    checked_override_value,
    clean_answers,
    clean_reason,
    is_newer,
    missing_required,
    rating_items,
    sheet_of,
)

ITEMS = [
    ScoringItem(id="r", kind="rating", label="Rating", scale_min=1, scale_max=5, weight=2.0,
                required=True),
    ScoringItem(id="y", kind="yes_no", label="Yes/no", scale_min=1, scale_max=5, weight=0.0,
                required=True),
    ScoringItem(id="c", kind="comment", label="Notes", scale_min=1, scale_max=5, weight=0.0,
                required=False),
]  # fmt: skip


def field_of(raw: dict[str, object]) -> str | None:
    with pytest.raises(ValidationFailed) as caught:
        clean_answers(ITEMS, raw)
    return caught.value.field


def test_answers_that_fit_are_kept_and_empty_ones_dropped() -> None:
    assert clean_answers(ITEMS, {"r": 3, "y": False, "c": "ok"}) == {"r": 3, "y": False, "c": "ok"}
    assert clean_answers(ITEMS, {"r": None, "c": "   "}) == {}
    assert clean_answers(ITEMS, {"r": 4.0}) == {"r": 4}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"r": 6}, "answers.r"),
        ({"r": 0}, "answers.r"),
        ({"r": 2.5}, "answers.r"),
        ({"r": True}, "answers.r"),
        ({"r": "3"}, "answers.r"),
        ({"y": "yes"}, "answers.y"),
        ({"c": 3}, "answers.c"),
        ({"zz": 1}, "answers.zz"),
    ],
)
def test_answers_that_do_not_fit_name_their_item(raw: dict[str, object], field: str) -> None:
    assert field_of(raw) == field


def test_missing_required_items_in_form_order() -> None:
    assert [i.id for i in missing_required(ITEMS, {})] == ["r", "y"]
    assert [i.id for i in missing_required(ITEMS, {"y": False})] == ["r"]
    assert missing_required(ITEMS, {"r": 1, "y": True}) == []


def test_the_missing_answers_error_lists_every_item() -> None:
    error = MissingAnswers(missing_required(ITEMS, {}))
    body = error.body()["error"]
    assert error.status == 422 and body["code"] == "missing_required"
    assert body["missing"] == ["r", "y"] and body["field"] == "answers.r"
    assert "Rating" in body["message"] and "Yes/no" in body["message"]


def test_only_a_higher_revision_is_newer() -> None:
    assert is_newer(3, 2) and not is_newer(2, 2) and not is_newer(1, 2)


def test_the_sheet_carries_rating_answers_only() -> None:
    score = Score(interviewer_id="i", applicant_id="a", answers={"r": 4, "y": True, "c": "x"},
                  status="submitted")  # fmt: skip
    sheet = sheet_of(score, ITEMS)
    assert sheet.answers == {"r": 4.0} and sheet.submitted
    assert [i.id for i in rating_items(ITEMS)] == ["r"]
    draft = Score(interviewer_id="i", applicant_id="a", answers={}, status="draft")
    assert sheet_of(draft, ITEMS).answers == {"r": None} and not sheet_of(draft, ITEMS).submitted


def test_reasons_and_override_values() -> None:
    assert clean_reason("  Met before  ") == "Met before"
    with pytest.raises(ValidationFailed):
        clean_reason(" ")
    assert checked_override_value(10, (1, 10)) == 10
    for bad in (0.5, 10.5, float("nan")):
        with pytest.raises(ValidationFailed):
            checked_override_value(bad, (1, 10))
