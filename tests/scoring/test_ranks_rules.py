"""Rank lists and exports, the pure rules."""

import csv
import io

import pytest

from core.errors import ValidationFailed
from scoring.agreement import Agreement
from scoring.exports import RankRow, rank_list_csv, rank_list_pdf, safe_text
from scoring.ranks import Move, Placement, checked_order, merged_order, moved_to, moves, reading_of


def test_an_unordered_list_follows_the_computed_order() -> None:
    assert merged_order(["a", "b"], []) == [
        Placement("a", True, False),
        Placement("b", True, False),
    ]


def test_a_stored_order_is_kept_and_newcomers_are_appended() -> None:
    stored = [
        Placement("b", True, True),
        Placement("gone", True, False),
        Placement("a", False, True),
    ]
    merged = merged_order(["a", "c", "b"], stored)
    assert [(p.applicant_id, p.included, p.new) for p in merged] == [
        ("b", True, False),
        ("a", False, False),
        ("c", True, True),
    ]


def test_a_full_order_names_everyone_once() -> None:
    assert checked_order(["a", "b"], [("b", True), ("a", False)]) == [("b", True), ("a", False)]
    for order, field in (
        ([("a", True)], "entries"),
        ([("a", True), ("a", True)], "entries.1.applicant_id"),
        ([("a", True), ("b", True), ("x", True)], "entries.2.applicant_id"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            checked_order(["a", "b"], order)
        assert caught.value.field == field


def test_moves_name_who_changed_place() -> None:
    assert moves(["a", "b", "c"], ["b", "a", "c"]) == [Move("b", 2, 1), Move("a", 1, 2)]
    assert moves(["a"], ["a", "n"]) == [Move("n", None, 2)]


def test_typing_a_rank_shifts_the_rest() -> None:
    assert moved_to(["a", "b", "c", "d"], "d", 2) == ["a", "d", "b", "c"]
    assert moved_to(["a", "b", "c"], "a", 99) == ["b", "c", "a"]
    assert moved_to(["a", "b", "c"], "c", 0) == ["c", "a", "b"]
    with pytest.raises(ValueError):
        moved_to(["a"], "z", 1)


def test_alpha_in_plain_words() -> None:
    assert "strongly" in reading_of(Agreement(0.9, 3, 2, 6))
    assert "mostly" in reading_of(Agreement(0.7, 3, 2, 6))
    assert "loosely" in reading_of(Agreement(0.5, 3, 2, 6))
    assert "barely" in reading_of(Agreement(0.1, 3, 2, 6))
    assert "Not enough data" in reading_of(Agreement(None, 1, 2, 2, "fewer than 2 applicants"))


ROWS = [
    RankRow(1, "Zoë =Ann", "z@x.test", "123", "+School", 8.5, 8.25, 3, "Override 8.50: panel"),
    RankRow(None, "Bo", "b@x.test", None, None, None, None, 0, ""),
]


def test_the_rank_csv_is_excel_ready_and_formula_safe() -> None:
    content = rank_list_csv(ROWS)
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[1] == ["1", "Zoë =Ann", "z@x.test", "123", "'+School", "8.50", "8.25", "3",
                       "Override 8.50: panel"]  # fmt: skip
    assert rows[2] == ["", "Bo", "b@x.test", "", "", "", "", "0", ""]
    assert safe_text("-1") == "'-1" and safe_text("@x") == "'@x" and safe_text(None) == ""


def test_the_rank_pdf_is_a_pdf() -> None:
    assert rank_list_pdf("Main <list>", "Exported today", ROWS).startswith(b"%PDF")
