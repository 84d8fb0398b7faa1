"""Inter-rater agreement for one session: Krippendorff's alpha (interval), pure Python.

Why Krippendorff's alpha rather than ICC(2,1): in a rotation not every interviewer meets every
applicant, so the applicant × interviewer matrix has holes, and alpha handles missing values by
construction (ICC needs a complete matrix or imputation). With the interval metric
δ(a, b) = (a − b)²:

    D_o = (1/n) Σ_u  Σ_{i≠j in u} (v_i − v_j)² / (m_u − 1)      observed disagreement
    D_e = 1/(n(n−1)) Σ_{i≠j over all values} (v_i − v_j)²       expected disagreement
    alpha = 1 − D_o / D_e

where u runs over the applicants scored by at least two interviewers (pairable units), m_u is
the number of values for u, and n the number of pairable values. The ordered-pair sums use
Σ_{i≠j} (v_i − v_j)² = 2 m Σ (v − mean)², which keeps the computation linear.

alpha is 1 for perfect agreement and about 0 for agreement no better than chance. It is None,
with a reason, when it cannot be computed: fewer than 2 interviewers or fewer than 2 applicants
scored by at least 2 interviewers, or no variation at all among the values.

The matrix is `Mapping[applicant id, Mapping[interviewer id, value]]`; a missing key is a
missing value. `matrix_from_results` builds it from `aggregate`'s results (counted values only).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scoring.aggregate import ApplicantResult

ScoreMatrix = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha (interval) and what it rests on.

    `n_applicants`, `n_interviewers` and `n_values` count the pairable data only (applicants with
    at least two values). `value` is None exactly when `reason` says why.
    """

    value: float | None
    n_applicants: int
    n_interviewers: int
    n_values: int
    reason: str | None = None
    method: str = "krippendorff_alpha_interval"


@dataclass(frozen=True)
class RaterPoint:
    """One dot of the agreement chart: an interviewer's value against the others' mean."""

    interviewer_id: str
    applicant_id: str
    value: float
    others_mean: float


def _pairable(matrix: ScoreMatrix) -> dict[str, list[float]]:
    units: dict[str, list[float]] = {}
    for applicant_id in sorted(matrix):
        values = [matrix[applicant_id][i] for i in sorted(matrix[applicant_id])]
        for value in values:
            if not math.isfinite(value):
                raise ValueError(f"a score for {applicant_id!r} is not a number: {value}")
        if len(values) >= 2:
            units[applicant_id] = values
    return units


def _sum_of_squares(values: list[float]) -> float:
    mean = statistics.fmean(values)
    return math.fsum((v - mean) ** 2 for v in values)


def krippendorff_alpha(matrix: ScoreMatrix) -> Agreement:
    """Agreement over the applicant × interviewer matrix, missing values allowed."""
    units = _pairable(matrix)
    interviewers = {i for a in units for i in matrix[a]}
    n = sum(len(values) for values in units.values())

    def undefined(reason: str) -> Agreement:
        return Agreement(None, len(units), len(interviewers), n, reason)

    if len({i for row in matrix.values() for i in row}) < 2:
        return undefined("fewer than 2 interviewers")
    if len(units) < 2:
        return undefined("fewer than 2 applicants scored by at least 2 interviewers")

    observed = (
        math.fsum(
            2 * len(values) * _sum_of_squares(values) / (len(values) - 1)
            for values in units.values()
        )
        / n
    )
    everything = [v for values in units.values() for v in values]
    expected = 2 * _sum_of_squares(everything) / (n - 1)
    if expected == 0:
        return undefined("every value is the same: there is no variation to agree on")
    return Agreement(1 - observed / expected, len(units), len(interviewers), n)


def rater_vs_others(matrix: ScoreMatrix) -> list[RaterPoint]:
    """Chart data: for every applicant with at least two values, each interviewer's value
    against the mean of the other interviewers' values for that applicant.

    Sorted by interviewer, then applicant.
    """
    points: list[RaterPoint] = []
    for applicant_id, row in matrix.items():
        if len(row) < 2:
            continue
        for interviewer_id, value in row.items():
            others = [v for other, v in row.items() if other != interviewer_id]
            points.append(RaterPoint(interviewer_id, applicant_id, value, statistics.fmean(others)))
    return sorted(points, key=lambda p: (p.interviewer_id, p.applicant_id))


def matrix_from_results(results: Iterable[ApplicantResult]) -> dict[str, dict[str, float]]:
    """The applicant × interviewer matrix of counted values (no drafts, no exclusions)."""
    return {result.applicant_id: result.values for result in results}
