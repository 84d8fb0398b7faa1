"""Inter-rater agreement (Krippendorff's alpha, interval) with hand-computed examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.aggregate import Item, ScoreSheet, aggregate
from scoring.agreement import (
    RaterPoint,
    krippendorff_alpha,
    matrix_from_results,
    rater_vs_others,
)


def test_perfect_agreement_is_one() -> None:
    alpha = krippendorff_alpha(
        {"a": {"x": 2, "y": 2}, "b": {"x": 5, "y": 5, "z": 5}, "c": {"y": 8, "z": 8}}
    )
    assert alpha.value == 1
    assert (alpha.n_applicants, alpha.n_interviewers, alpha.n_values, alpha.reason) == (
        3,
        3,
        7,
        None,
    )


def test_small_hand_computed_example() -> None:
    # a: 1, 2   b: 3, 3   c: 5, 4      n = 6 pairable values
    # Within-unit sums of squares: a 0.5, b 0, c 0.5.
    # D_o = (1/6) Σ 2·m·SS/(m-1) = (1/6)(2·2·0.5 + 0 + 2·2·0.5) = 4/6
    # All values 1,2,3,3,5,4: mean 3, SS = 4+1+0+0+4+1 = 10; D_e = 2·SS/(n-1) = 20/5 = 4
    # alpha = 1 - (4/6)/4 = 5/6
    alpha = krippendorff_alpha(
        {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 3}, "c": {"x": 5, "y": 4}}
    )
    assert alpha.value == pytest.approx(5 / 6)


def test_krippendorff_textbook_example_with_missing_values() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers ×
    # 12 units example with missing values; the published interval alpha is 0.849.
    #
    #   unit      1  2  3  4  5  6  7  8  9 10 11 12
    #   A         1  2  3  3  2  1  4  1  2  .  .  .
    #   B         1  2  3  3  2  2  4  1  2  5  .  3
    #   C         .  3  3  3  2  3  4  2  2  5  1  .
    #   D         1  2  3  3  2  4  4  1  2  5  1  .
    #
    # Unit 12 has one value and is not pairable; n = 3+4·8+3+2 = 40 values.
    # Units with spread: 2 (2,2,3,2: SS 0.75), 6 (1,2,3,4: SS 5), 8 (1,1,2,1: SS 0.75).
    # D_o = (1/40)(2·4·0.75/3 + 2·4·5/3 + 2·4·0.75/3) = (2 + 40/3 + 2)/40 = 0.43333
    # All 40 values: sum 100, sum of squares 306, SS = 306 - 100²/40 = 56;
    # D_e = 2·56/39 = 2.871795;  alpha = 1 - 0.43333/2.871795 = 0.849107
    columns = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    matrix: dict[str, dict[str, float]] = {}
    for observer, values in columns.items():
        for unit, value in enumerate(values, start=1):
            if value is not None:
                matrix.setdefault(f"u{unit}", {})[observer] = value
    alpha = krippendorff_alpha(matrix)
    assert alpha.value == pytest.approx(1 - (13 / 30) / (112 / 39))
    assert round(alpha.value or 0, 3) == 0.849
    assert (alpha.n_applicants, alpha.n_interviewers, alpha.n_values) == (11, 4, 40)


@pytest.mark.parametrize(
    ("matrix", "reason"),
    [
        ({}, "fewer than 2 interviewers"),
        ({"a": {"x": 3}, "b": {"x": 5}}, "fewer than 2 interviewers"),
        ({"a": {"x": 3, "y": 4}, "b": {"x": 5}}, "fewer than 2 applicants"),
        ({"a": {"x": 3}, "b": {"y": 5}}, "fewer than 2 applicants"),
        ({"a": {"x": 3, "y": 3}, "b": {"x": 3, "y": 3}}, "no variation"),
    ],
)
def test_degenerate_input_has_no_value_but_a_reason(
    matrix: dict[str, dict[str, float]], reason: str
) -> None:
    alpha = krippendorff_alpha(matrix)
    assert alpha.value is None
    assert alpha.reason is not None and reason in alpha.reason


def test_a_non_number_is_refused() -> None:
    with pytest.raises(ValueError):
        krippendorff_alpha({"a": {"x": float("nan"), "y": 1}, "b": {"x": 1, "y": 2}})


@given(
    st.dictionaries(
        st.sampled_from("abcdef"),
        st.dictionaries(st.sampled_from("xyz"), st.integers(1, 10).map(float), max_size=3),
    )
)
def test_alpha_is_at_most_one(matrix: dict[str, dict[str, float]]) -> None:
    alpha = krippendorff_alpha(matrix)
    assert (alpha.value is None) == (alpha.reason is not None)
    if alpha.value is not None:
        assert alpha.value <= 1 + 1e-12


def test_chart_points_compare_each_interviewer_with_the_others() -> None:
    points = rater_vs_others({"a": {"x": 4, "y": 6, "z": 8}, "b": {"x": 2}, "c": {"y": 3, "z": 5}})
    assert points == [
        RaterPoint("x", "a", 4, 7),
        RaterPoint("y", "a", 6, 6),
        RaterPoint("y", "c", 3, 5),
        RaterPoint("z", "a", 8, 5),
        RaterPoint("z", "c", 5, 3),
    ]


def test_matrix_from_results_uses_counted_values_only() -> None:
    results = aggregate(
        (Item("overall", 1, 1, 10),),
        [
            ScoreSheet("x", "a", {"overall": 4}, submitted=True),
            ScoreSheet("y", "a", {"overall": 6}, submitted=True),
            ScoreSheet("z", "a", {"overall": 9}, submitted=False),
            ScoreSheet("z", "b", {"overall": 2}, submitted=True),
        ],
        {"a": "A", "b": "B"},
        exclusions={("b", "z")},
    )
    assert matrix_from_results(results) == {"a": {"x": 4, "y": 6}, "b": {}}
