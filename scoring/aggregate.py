"""Scores into ranks: pure aggregation of interviewers' score sheets.

The numbers, per applicant:

- **Sheet value** (`sheet_value`): each answer is normalised from its item's scale to [0, 1],
  the weighted average Σ(normalised × weight) / Σ(weight) is taken over the answered items, and
  the result is rescaled to the session's score range (1–10 by default). Unanswered items are
  left out of both sums and listed in `unrated_items`; a sheet with no answer has no value.
- **Counted scores**: submitted sheets only, minus the excluded (applicant, interviewer) pairs.
  Drafts are never counted; their interviewers are listed in `drafts` so the UI can say so.
- **Average**: the plain mean of the counted interviewer values (each interviewer weighs the
  same). **Final**: the override's value when there is one (a written reason is required), else
  the average.
- **Standardised** (optional, shown beside the raw score, never replacing `final`): each
  interviewer's values become z-scores against that interviewer's own mean and population
  standard deviation over every applicant they scored (an interviewer whose values do not vary,
  including one who scored a single applicant, contributes 0: only centred, since there is no
  spread to scale); the z-scores are mapped back with the mean and population standard deviation
  of all counted values, and the applicant's standardised score is the mean over their
  interviewers. It is not clamped, so it can fall slightly outside the range.
- **Disagreement**: at least two counted values whose range is at least `disagreement_threshold`
  (default 30%) of the score range.

`rank` orders by final score, highest first; ties share a rank (competition ranking 1, 2, 2, 4),
are marked `tied_with_previous`, and are listed alphabetically by display name. Final scores equal
to 9 decimals count as tied, so float noise never breaks a tie. Applicants without a final score
come last, alphabetically, with no rank.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import NamedTuple

ScoreRange = tuple[float, float]
DEFAULT_RANGE: ScoreRange = (1.0, 10.0)
_TIE_DECIMALS = 9
_TOLERANCE = 1e-9


def _check_range(target_range: ScoreRange) -> None:
    low, high = target_range
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"a score range needs finite low < high, got {target_range}")


@dataclass(frozen=True)
class Item:
    """A rating item of a scoring form: answers run from `scale_min` to `scale_max`."""

    id: str
    weight: float
    scale_min: float
    scale_max: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"item {self.id!r}: the weight must be positive, got {self.weight}")
        if not (
            math.isfinite(self.scale_min)
            and math.isfinite(self.scale_max)
            and self.scale_min < self.scale_max
        ):
            raise ValueError(
                f"item {self.id!r}: the scale needs finite min < max, "
                f"got {self.scale_min}..{self.scale_max}"
            )


@dataclass(frozen=True)
class ScoreSheet:
    """One interviewer's answers for one applicant; None is an unanswered item."""

    interviewer_id: str
    applicant_id: str
    answers: Mapping[str, float | None]
    submitted: bool


@dataclass(frozen=True)
class SheetValue:
    value: float | None
    unrated_items: tuple[str, ...]


class Override(NamedTuple):
    """A final score set by hand; `reason` is required and shown with it."""

    value: float
    reason: str


@dataclass(frozen=True)
class InterviewerScore:
    """A counted sheet: its value (None if nothing was rated) and standardised value."""

    interviewer_id: str
    value: float | None
    unrated_items: tuple[str, ...]
    standardised: float | None = None


@dataclass(frozen=True)
class ApplicantResult:
    """Everything the rank list shows for one applicant.

    `scores` are the counted sheets by interviewer id; `drafts` and `excluded` name the
    interviewers whose sheets were not counted, and why.
    """

    applicant_id: str
    name: str
    scores: tuple[InterviewerScore, ...]
    average: float | None
    final: float | None
    override: Override | None
    standardised: float | None
    disagreement: bool
    drafts: tuple[str, ...]
    excluded: tuple[str, ...]

    @property
    def unrated(self) -> bool:
        """No counted interviewer value: the average is missing."""
        return self.average is None

    @property
    def values(self) -> dict[str, float]:
        """The counted interviewer values by interviewer id (a fresh dict)."""
        return {s.interviewer_id: s.value for s in self.scores if s.value is not None}


@dataclass(frozen=True)
class RankedApplicant:
    """A rank list row; `rank` is None for an applicant without a final score."""

    rank: int | None
    tied_with_previous: bool
    result: ApplicantResult

    @property
    def applicant_id(self) -> str:
        return self.result.applicant_id

    @property
    def name(self) -> str:
        return self.result.name

    @property
    def final(self) -> float | None:
        return self.result.final


def sheet_value(
    items: Sequence[Item], sheet: ScoreSheet, target_range: ScoreRange = DEFAULT_RANGE
) -> SheetValue:
    """The weighted, rescaled value of one sheet (drafts too: the side panel shows it live)."""
    _check_range(target_range)
    by_id = _items_by_id(items)
    unknown = sorted(set(sheet.answers) - set(by_id))
    if unknown:
        raise ValueError(f"answers to items that are not on the form: {unknown}")
    weighted = 0.0
    total_weight = 0.0
    unrated: list[str] = []
    for item in items:
        answer = sheet.answers.get(item.id)
        if answer is None:
            unrated.append(item.id)
            continue
        if not (math.isfinite(answer) and item.scale_min <= answer <= item.scale_max):
            raise ValueError(
                f"item {item.id!r}: {answer} is outside its scale "
                f"{item.scale_min}..{item.scale_max}"
            )
        normalised = (answer - item.scale_min) / (item.scale_max - item.scale_min)
        weighted += normalised * item.weight
        total_weight += item.weight
    if total_weight == 0:
        return SheetValue(None, tuple(unrated))
    low, high = target_range
    return SheetValue(low + (weighted / total_weight) * (high - low), tuple(unrated))


def _items_by_id(items: Sequence[Item]) -> dict[str, Item]:
    by_id: dict[str, Item] = {}
    for item in items:
        if item.id in by_id:
            raise ValueError(f"two items share the id {item.id!r}")
        by_id[item.id] = item
    return by_id


def _checked_overrides(
    overrides: Mapping[str, tuple[float, str]],
    names: Mapping[str, str],
    target_range: ScoreRange,
) -> dict[str, Override]:
    low, high = target_range
    checked: dict[str, Override] = {}
    for applicant_id, (value, reason) in overrides.items():
        if applicant_id not in names:
            raise ValueError(f"an override for an unknown applicant {applicant_id!r}")
        if not reason.strip():
            raise ValueError(f"the override for {applicant_id!r} needs a written reason")
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(
                f"the override for {applicant_id!r} ({value}) is outside the range {low}..{high}"
            )
        checked[applicant_id] = Override(value, reason.strip())
    return checked


class _Scaling(NamedTuple):
    own_mean: float
    own_sd: float
    global_mean: float
    global_sd: float


def _standardisers(counted: Iterable[tuple[str, float]]) -> dict[str, _Scaling]:
    """Per interviewer, what standardising their values needs."""
    by_interviewer: dict[str, list[float]] = {}
    everything: list[float] = []
    for interviewer_id, value in counted:
        by_interviewer.setdefault(interviewer_id, []).append(value)
        everything.append(value)
    if not everything:
        return {}
    global_mean = statistics.fmean(everything)
    global_sd = statistics.pstdev(everything)
    return {
        interviewer_id: _Scaling(
            statistics.fmean(values),
            statistics.pstdev(values),
            global_mean,
            global_sd,
        )
        for interviewer_id, values in by_interviewer.items()
    }


def _standardise(value: float, scaling: _Scaling) -> float:
    # No spread means nothing to scale by: the values are only centred, which puts them at 0.
    z = (value - scaling.own_mean) / scaling.own_sd if scaling.own_sd > 0 else 0.0
    return scaling.global_mean + z * scaling.global_sd


def aggregate(
    items: Sequence[Item],
    sheets: Iterable[ScoreSheet],
    names: Mapping[str, str],
    *,
    exclusions: AbstractSet[tuple[str, str]] = frozenset(),
    overrides: Mapping[str, tuple[float, str]] | None = None,
    target_range: ScoreRange = DEFAULT_RANGE,
    standardise: bool = False,
    disagreement_threshold: float = 0.3,
) -> list[ApplicantResult]:
    """One result per applicant in `names` (applicant id -> display name), sorted by name.

    `exclusions` holds (applicant id, interviewer id) pairs whose sheet is not counted (a pair
    without a sheet is ignored); `overrides` maps an applicant id to (value, reason). Raises
    ValueError for an override without a reason or outside the range, a sheet for an applicant
    not in `names`, or two sheets from one interviewer for one applicant.
    """
    _check_range(target_range)
    if not 0 <= disagreement_threshold <= 1:
        raise ValueError("disagreement_threshold is a fraction of the range, between 0 and 1")
    checked_overrides = _checked_overrides(overrides or {}, names, target_range)

    per_applicant: dict[str, dict[str, ScoreSheet]] = {applicant: {} for applicant in names}
    for sheet in sheets:
        if sheet.applicant_id not in per_applicant:
            raise ValueError(f"a sheet for an applicant without a name: {sheet.applicant_id!r}")
        own = per_applicant[sheet.applicant_id]
        if sheet.interviewer_id in own:
            raise ValueError(f"two sheets from {sheet.interviewer_id!r} for {sheet.applicant_id!r}")
        own[sheet.interviewer_id] = sheet

    counted: dict[str, list[InterviewerScore]] = {}
    drafts: dict[str, list[str]] = {}
    excluded: dict[str, list[str]] = {}
    for applicant_id, by_interviewer in per_applicant.items():
        counted[applicant_id], drafts[applicant_id], excluded[applicant_id] = [], [], []
        for interviewer_id in sorted(by_interviewer):
            sheet = by_interviewer[interviewer_id]
            if not sheet.submitted:
                drafts[applicant_id].append(interviewer_id)
            elif (applicant_id, interviewer_id) in exclusions:
                excluded[applicant_id].append(interviewer_id)
            else:
                computed = sheet_value(items, sheet, target_range)
                counted[applicant_id].append(
                    InterviewerScore(interviewer_id, computed.value, computed.unrated_items)
                )

    scalings = (
        _standardisers(
            (score.interviewer_id, score.value)
            for scores in counted.values()
            for score in scores
            if score.value is not None
        )
        if standardise
        else {}
    )

    low, high = target_range
    results: list[ApplicantResult] = []
    for applicant_id in sorted(names, key=lambda a: (names[a].casefold(), names[a], a)):
        scores = [
            InterviewerScore(
                s.interviewer_id,
                s.value,
                s.unrated_items,
                _standardise(s.value, scalings[s.interviewer_id])
                if scalings and s.value is not None
                else None,
            )
            for s in counted[applicant_id]
        ]
        values = [s.value for s in scores if s.value is not None]
        adjusted = [s.standardised for s in scores if s.standardised is not None]
        average = statistics.fmean(values) if values else None
        override = checked_overrides.get(applicant_id)
        results.append(
            ApplicantResult(
                applicant_id=applicant_id,
                name=names[applicant_id],
                scores=tuple(scores),
                average=average,
                final=override.value if override else average,
                override=override,
                standardised=statistics.fmean(adjusted) if adjusted else None,
                disagreement=len(values) >= 2
                and max(values) - min(values) >= disagreement_threshold * (high - low) - _TOLERANCE,
                drafts=tuple(drafts[applicant_id]),
                excluded=tuple(excluded[applicant_id]),
            )
        )
    return results


def rank(results: Iterable[ApplicantResult]) -> list[RankedApplicant]:
    """The main rank list: final score descending, ties alphabetical and sharing a rank."""
    results = list(results)

    def by_name(result: ApplicantResult) -> tuple[str, str, str]:
        return (result.name.casefold(), result.name, result.applicant_id)

    # Rounded so that float noise in equal scores (e.g. 0.1 + 0.2 vs 0.3) never breaks a tie.
    rated = [(round(r.final, _TIE_DECIMALS), r) for r in results if r.final is not None]
    rated.sort(key=lambda pair: (-pair[0], *by_name(pair[1])))
    unrated = sorted((r for r in results if r.final is None), key=by_name)

    ranked: list[RankedApplicant] = []
    previous_score: float | None = None
    previous_rank = 0
    for position, (score, result) in enumerate(rated, start=1):
        tied = score == previous_score
        previous_rank = previous_rank if tied else position
        previous_score = score
        ranked.append(RankedApplicant(previous_rank, tied, result))
    ranked += [RankedApplicant(None, False, result) for result in unrated]
    return ranked
