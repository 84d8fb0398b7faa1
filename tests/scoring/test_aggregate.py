"""Scores into ranks, with hand-computed numbers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.aggregate import (
    ApplicantResult,
    Item,
    Override,
    RankedApplicant,
    ScoreSheet,
    aggregate,
    rank,
    sheet_value,
)

# A two-item form: clinical reasoning counts double and is scored 1–5; communication is 0–10.
FORM = (Item("clinical", 2, 1, 5), Item("communication", 1, 0, 10))
# One item scored 1–10 and a 1–10 target: a sheet's value is its answer, which keeps the
# aggregation examples readable.
SIMPLE = (Item("overall", 1, 1, 10),)

NAMES = {"ann": "Ann Adams", "bob": "Bob Brown", "cat": "Cat Chen", "dan": "Dan Diaz"}


def sheet(
    interviewer: str, applicant: str, answers: dict[str, float | None], submitted: bool = True
) -> ScoreSheet:
    return ScoreSheet(interviewer, applicant, answers, submitted)


def simple(interviewer: str, applicant: str, value: float, submitted: bool = True) -> ScoreSheet:
    return sheet(interviewer, applicant, {"overall": value}, submitted)


def by_id(results: list[ApplicantResult]) -> dict[str, ApplicantResult]:
    return {r.applicant_id: r for r in results}


# --- one sheet --------------------------------------------------------------------------------


def test_weights_and_rescaling() -> None:
    # clinical 4 on 1–5 -> (4-1)/4 = 0.75; communication 7 on 0–10 -> 0.7.
    # (0.75×2 + 0.7×1) / 3 = 2.2/3; on 1–10: 1 + 9 × 2.2/3 = 7.6.
    result = sheet_value(FORM, sheet("x", "ann", {"clinical": 4, "communication": 7}))
    assert result.value == pytest.approx(7.6)
    assert result.unrated_items == ()
    # The same sheet on a 0–100 range: 100 × 2.2/3.
    on_100 = sheet_value(FORM, sheet("x", "ann", {"clinical": 4, "communication": 7}), (0, 100))
    assert on_100.value == pytest.approx(220 / 3)


def test_scale_ends_map_to_range_ends() -> None:
    assert sheet_value(FORM, sheet("x", "a", {"clinical": 1, "communication": 0})).value == 1
    assert sheet_value(FORM, sheet("x", "a", {"clinical": 5, "communication": 10})).value == 10


def test_unanswered_items_are_left_out_of_both_sums() -> None:
    # Only clinical: 0.75×2 / 2 = 0.75 -> 1 + 9 × 0.75 = 7.75 (not dragged down by a zero).
    partial = sheet_value(FORM, sheet("x", "a", {"clinical": 4, "communication": None}))
    assert partial.value == pytest.approx(7.75)
    assert partial.unrated_items == ("communication",)
    missing_key = sheet_value(FORM, sheet("x", "a", {"clinical": 4}))
    assert missing_key == partial
    empty = sheet_value(FORM, sheet("x", "a", {}))
    assert (empty.value, empty.unrated_items) == (None, ("clinical", "communication"))


@pytest.mark.parametrize(
    "answers",
    [{"clinical": 6}, {"clinical": 0.5}, {"communication": math.nan}, {"empathy": 3}],
)
def test_bad_answers_are_refused(answers: dict[str, float | None]) -> None:
    with pytest.raises(ValueError):
        sheet_value(FORM, sheet("x", "a", answers))


def test_bad_forms_and_ranges_are_refused() -> None:
    with pytest.raises(ValueError):
        Item("a", 0, 1, 5)
    with pytest.raises(ValueError):
        Item("a", 1, 5, 5)
    with pytest.raises(ValueError, match="share the id"):
        sheet_value((Item("a", 1, 1, 5), Item("a", 2, 1, 5)), sheet("x", "a", {}))
    with pytest.raises(ValueError):
        sheet_value(FORM, sheet("x", "a", {}), (10, 1))


@given(
    st.floats(1, 5),
    st.one_of(st.none(), st.floats(0, 10)),
    st.tuples(st.floats(-100, 100), st.floats(0.001, 100)),
)
def test_a_sheet_value_stays_in_the_range(
    clinical: float, communication: float | None, range_: tuple[float, float]
) -> None:
    low, high = range_[0], range_[0] + range_[1]
    answers = {"clinical": clinical, "communication": communication}
    value = sheet_value(FORM, sheet("x", "a", answers), (low, high)).value
    assert value is not None
    assert low - 1e-9 <= value <= high + 1e-9


# --- aggregation ------------------------------------------------------------------------------


def test_average_final_and_drafts() -> None:
    results = by_id(
        aggregate(
            SIMPLE,
            [
                simple("x", "ann", 8),
                simple("y", "ann", 6),
                simple("x", "bob", 9),
                simple("y", "bob", 5),
                simple("z", "bob", 1, submitted=False),  # a draft: never counted
            ],
            NAMES,
        )
    )
    ann, bob = results["ann"], results["bob"]
    assert (ann.average, ann.final, ann.values) == (7, 7, {"x": 8, "y": 6})
    # (9 + 5) / 2 = 7; the draft's 1 would have made it 5.
    assert (bob.average, bob.final, bob.drafts) == (7, 7, ("z",))
    assert bob.values == {"x": 9, "y": 5}
    assert ann.override is None and ann.standardised is None


def test_weighted_sheets_feed_the_average() -> None:
    [ann] = aggregate(
        FORM,
        [
            sheet("x", "ann", {"clinical": 4, "communication": 7}),  # 7.6 (see above)
            sheet("y", "ann", {"clinical": 4}),  # 7.75
        ],
        {"ann": "Ann"},
    )
    assert ann.average == pytest.approx((7.6 + 7.75) / 2)
    assert [s.unrated_items for s in ann.scores] == [(), ("communication",)]


def test_excluding_one_interviewer_for_one_applicant() -> None:
    sheets = [simple("x", "ann", 8), simple("y", "ann", 2), simple("y", "bob", 6)]
    results = by_id(aggregate(SIMPLE, sheets, NAMES, exclusions={("ann", "y")}))
    assert (results["ann"].average, results["ann"].excluded) == (8, ("y",))
    # y still counts for bob.
    assert (results["bob"].average, results["bob"].excluded) == (6, ())
    # An exclusion without a sheet changes nothing.
    again = by_id(aggregate(SIMPLE, sheets, NAMES, exclusions={("ann", "y"), ("cat", "x")}))
    assert again == results


def test_override_replaces_final_but_not_average() -> None:
    results = by_id(
        aggregate(
            SIMPLE,
            [simple("x", "cat", 6), simple("y", "cat", 7)],
            NAMES,
            overrides={"cat": (9.5, "  Outstanding letters from the away rotation ")},
        )
    )
    cat = results["cat"]
    assert (cat.average, cat.final) == (6.5, 9.5)
    assert cat.override == Override(9.5, "Outstanding letters from the away rotation")
    # An override also ranks an applicant nobody scored.
    dan = by_id(aggregate(SIMPLE, [], NAMES, overrides={"dan": (5, "Interviewed by phone")}))
    assert (dan["dan"].average, dan["dan"].final, dan["dan"].unrated) == (None, 5, True)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cat": (9.5, "")}, "reason"),
        ({"cat": (9.5, "   ")}, "reason"),
        ({"cat": (11, "too good")}, "outside"),
        ({"eve": (5, "not here")}, "unknown"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, tuple[float, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aggregate(SIMPLE, [simple("x", "cat", 6)], NAMES, overrides=overrides)


def test_bad_sheet_sets_are_refused() -> None:
    with pytest.raises(ValueError, match="without a name"):
        aggregate(SIMPLE, [simple("x", "eve", 6)], NAMES)
    with pytest.raises(ValueError, match="two sheets"):
        aggregate(SIMPLE, [simple("x", "ann", 6), simple("x", "ann", 7)], NAMES)


def test_unrated_applicants_and_sheets() -> None:
    results = by_id(
        aggregate(SIMPLE, [sheet("x", "ann", {"overall": None}), simple("y", "bob", 5)], NAMES)
    )
    ann = results["ann"]
    # A submitted sheet with nothing rated is shown, but has no value to average.
    assert ann.unrated and ann.average is None and ann.final is None
    assert [(s.interviewer_id, s.value, s.unrated_items) for s in ann.scores] == [
        ("x", None, ("overall",))
    ]
    assert results["dan"].unrated and results["dan"].scores == ()
    assert not results["bob"].unrated


def test_disagreement_is_a_range_of_at_least_30_percent() -> None:
    # 30% of the 1–10 range is 2.7.
    results = by_id(
        aggregate(
            SIMPLE,
            [
                simple("x", "ann", 5),
                simple("y", "ann", 7.7),  # range 2.7: flagged
                simple("x", "bob", 5),
                simple("y", "bob", 7.6),  # range 2.6: not flagged
                simple("x", "cat", 1),  # a single value cannot disagree
            ],
            NAMES,
        )
    )
    assert [results[a].disagreement for a in ("ann", "bob", "cat")] == [True, False, False]


def test_results_come_sorted_by_name() -> None:
    names = {"b": "bea", "a": "Zed", "c": "Al"}
    assert [r.name for r in aggregate(SIMPLE, [], names)] == ["Al", "bea", "Zed"]


# --- standardisation --------------------------------------------------------------------------


def test_standardisation_evens_out_a_lenient_and_a_harsh_interviewer() -> None:
    # x (lenient) saw ann 10 and bob 8: mean 9, sd 1, so z = +1 and -1.
    # y (harsh) saw cat 4 and dan 2: mean 3, sd 1, so z = +1 and -1.
    # All values 10, 8, 4, 2: mean 6; deviations 4, 2, -2, -4; variance 40/4 = 10.
    # Standardised: 6 ± √10 — each interviewer's best applicant lands on the same score.
    results = by_id(
        aggregate(
            SIMPLE,
            [
                simple("x", "ann", 10),
                simple("x", "bob", 8),
                simple("y", "cat", 4),
                simple("y", "dan", 2),
            ],
            NAMES,
            standardise=True,
        )
    )
    high, low = 6 + math.sqrt(10), 6 - math.sqrt(10)
    expected = {"ann": high, "bob": low, "cat": high, "dan": low}
    for applicant, value in expected.items():
        assert results[applicant].standardised == pytest.approx(value)
        assert results[applicant].scores[0].standardised == pytest.approx(value)
    # Shown beside the raw score, never replacing it.
    assert [results[a].final for a in ("ann", "bob", "cat", "dan")] == [10, 8, 4, 2]


def test_standardisation_of_an_interviewer_without_spread_centres_only() -> None:
    # z saw one applicant (sd 0): their value is only centred, landing on the global mean.
    # Values: x 10 and 6 for ann and bob, z 3 for cat -> global mean 19/3.
    results = by_id(
        aggregate(
            SIMPLE,
            [simple("x", "ann", 10), simple("x", "bob", 6), simple("z", "cat", 3)],
            NAMES,
            standardise=True,
        )
    )
    assert results["cat"].standardised == pytest.approx(19 / 3)
    assert results["dan"].standardised is None


def test_standardised_is_the_mean_over_the_applicants_interviewers() -> None:
    # x: ann 9, bob 5 -> mean 7, sd 2; y: ann 6, bob 4 -> mean 5, sd 1.
    # All values 9, 5, 6, 4: mean 6, deviations 3, -1, 0, -2, variance 14/4 = 3.5.
    # ann: x z=+1, y z=+1 -> both 6 + √3.5; bob: both 6 - √3.5.
    results = by_id(
        aggregate(
            SIMPLE,
            [
                simple("x", "ann", 9),
                simple("x", "bob", 5),
                simple("y", "ann", 6),
                simple("y", "bob", 4),
            ],
            NAMES,
            standardise=True,
        )
    )
    assert results["ann"].standardised == pytest.approx(6 + math.sqrt(3.5))
    assert results["bob"].standardised == pytest.approx(6 - math.sqrt(3.5))


# --- ranking ----------------------------------------------------------------------------------


def result(applicant: str, name: str, final: float | None) -> ApplicantResult:
    return ApplicantResult(
        applicant_id=applicant,
        name=name,
        scores=(),
        average=final,
        final=final,
        override=None,
        standardised=None,
        disagreement=False,
        drafts=(),
        excluded=(),
    )


def rows(ranked: list[RankedApplicant]) -> list[tuple[int | None, str, bool]]:
    return [(r.rank, r.name, r.tied_with_previous) for r in ranked]


def test_rank_by_final_with_competition_ranking_for_ties() -> None:
    ranked = rank(
        [
            result("d", "Dan Diaz", 5),
            result("b", "Bob Brown", 7),
            result("c", "Cat Chen", 9),
            result("a", "Ann Adams", 7),
            result("e", "Eve Evans", None),
        ]
    )
    assert rows(ranked) == [
        (1, "Cat Chen", False),
        (2, "Ann Adams", False),
        (2, "Bob Brown", True),
        (4, "Dan Diaz", False),
        (None, "Eve Evans", False),
    ]


def test_ties_are_alphabetical_ignoring_case_and_float_noise() -> None:
    ranked = rank([result("1", "bea", 0.1 + 0.2), result("2", "Al", 0.3), result("3", "Cy", 0.3)])
    assert rows(ranked) == [(1, "Al", False), (1, "bea", True), (1, "Cy", True)]


def test_rank_of_aggregated_results_with_override() -> None:
    results = aggregate(
        SIMPLE,
        [simple("x", "ann", 8), simple("x", "bob", 6), simple("x", "cat", 7)],
        NAMES,
        overrides={"bob": (8, "Exceptional research record")},
    )
    assert rows(rank(results)) == [
        (1, "Ann Adams", False),
        (1, "Bob Brown", True),
        (3, "Cat Chen", False),
        (None, "Dan Diaz", False),
    ]


@given(st.lists(st.one_of(st.none(), st.integers(1, 5).map(float)), max_size=12))
def test_rank_is_ordered_and_ranks_are_competition_ranks(finals: list[float | None]) -> None:
    ranked = rank([result(str(i), f"n{i}", f) for i, f in enumerate(finals)])
    assert sorted(r.applicant_id for r in ranked) == sorted(str(i) for i in range(len(finals)))
    rated = [r for r in ranked if r.rank is not None]
    assert all(r.final is not None for r in rated)
    assert all(r.final is None for r in ranked[len(rated) :])
    for position, row in enumerate(rated, start=1):
        higher = sum(1 for other in rated if (other.final or 0) > (row.final or 0))
        assert row.rank == higher + 1
        assert row.tied_with_previous == (row.rank != position)
