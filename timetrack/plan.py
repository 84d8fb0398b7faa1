"""The day plan: a session's interview day as pure, contiguous phases.

`build_plan` turns a published itinerary's timing (`PlanInput`) into a `DayPlan`; `phase_at`
answers where the day is at any instant; `events_between` lists the boundary events a ticker must
fire in a window. Coordinator adjustments (`pause`, `resume`, `extend`, `skip`, `end_early`,
`append_rounds`) are pure transforms that return a new plan. Nothing here reads the clock: every
instant is passed in (seconds since the Unix epoch, UTC, like `core.clock.Clock.now()`).

Decisions, so that callers can rely on them:

- **The phases partition the whole time line.** `plan.phases` starts with a `before` phase from
  -inf and ends with an `after` phase to +inf; each phase ends where the next one starts. A phase
  covers the half-open interval `[start, end)`: at the exact instant an interview ends, the day
  is already in the review. Skipping can leave zero-length phases (`start == end`); they are
  never current, but their boundary events still fire, so every round keeps its events.
- **Events fire in `(t0, t1]`.** Each event has a key `(kind, round)` that is unique within a
  plan, so a restarted ticker can skip the keys it already fired. Events at the same instant come
  in plan order: the ending phase's events before the starting phase's.
- **Adjustments never rewrite the past.** An adjustment at `at` moves only instants strictly
  after `at` (the current phase's end, its pending warning, every later phase), so an event that
  was due at or before `at` keeps its key and time. `skip` and `end_early` may add events at
  exactly `at` (the current phase now ends there): a ticker applies the command, then polls
  `(last_poll, at]` and drops keys it already fired. Adjustments must come in time order: an
  `at` earlier than the previous adjustment's raises `ValueError`.
- **A pause is explicit state.** `pause` records `paused_at`; while paused, `phase_at` is frozen
  at `paused_at` (with `paused=True`) and no event after `paused_at` is due. `resume` shifts every
  instant after `paused_at` by the paused duration and records the pause, so the phase's active
  elapsed time excludes it and its pending knock still comes `knock_seconds` of active time
  before its end. `extend` and `append_rounds` while paused act at the frozen instant; `skip`
  and `end_early` resume first (the pause ends at `at`), because the events they create must be
  due now, not in the frozen past.
- **Overtime** is the active time spent in a phase beyond its published length
  (`planned_seconds`); it only becomes positive after `extend`. It is never negative.
- **Breaks** belong to the round they follow (`Phase("break", 2, ...)` comes after round 2).
- **`move` fires at the start of every interview**, round 1 included (applicants go to their
  first room), with the round being entered; after a break, the move comes when the break ends.
- **`append_rounds`** takes an `at` like the other adjustments (a refinement of the brief): the
  new rounds go right after the last round, before closing, which is only possible while that
  point is still in the future.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

PhaseKind = Literal["before", "welcome", "interview", "review", "break", "closing", "after"]
EventKind = Literal[
    "welcome_start",
    "move",
    "knock",
    "interview_end",
    "move_notice",
    "review_end",
    "break_start",
    "closing_start",
    "day_end",
]


def _require_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _require_non_negative(name: str, value: float) -> None:
    _require_finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")


@dataclass(frozen=True)
class PlanInput:
    """The timing of a published itinerary.

    `breaks` maps a round number to the length of the break after it (rounds 1 to `rounds - 1`).
    `welcome_seconds` and `closing_seconds` are meeting-room phases before the first round and
    after the last; 0 means there is none. A knock (or move notice) is only scheduled when it
    falls strictly inside its interview (or review); 0 turns it off.
    """

    start: float
    rounds: int
    interview_seconds: float
    review_seconds: float
    breaks: Mapping[int, float] = field(default_factory=dict)
    welcome_seconds: float = 0.0
    closing_seconds: float = 0.0
    knock_seconds: float = 120.0
    move_notice_seconds: float = 10.0

    def __post_init__(self) -> None:
        _require_finite("start", self.start)
        if self.rounds < 1:
            raise ValueError(f"a day needs at least one round, got rounds={self.rounds}")
        _require_finite("interview_seconds", self.interview_seconds)
        if self.interview_seconds <= 0:
            raise ValueError("interview_seconds must be positive")
        for name in (
            "review_seconds",
            "welcome_seconds",
            "closing_seconds",
            "knock_seconds",
            "move_notice_seconds",
        ):
            _require_non_negative(name, getattr(self, name))
        for after_round, seconds in self.breaks.items():
            if not 1 <= after_round < self.rounds:
                raise ValueError(
                    f"a break must follow one of rounds 1..{self.rounds - 1}, got {after_round}"
                )
            _require_finite(f"break after round {after_round}", seconds)
            if seconds <= 0:
                raise ValueError(f"the break after round {after_round} must be positive")


@dataclass(frozen=True)
class RoundTiming:
    """What one round looks like; kept in the plan so `append_rounds` can add more."""

    interview_seconds: float
    review_seconds: float
    knock_seconds: float
    move_notice_seconds: float


@dataclass(frozen=True)
class Phase:
    """One stretch of the day, covering `[start, end)`.

    `round` is the round of an interview or review, the round a break follows, and None
    otherwise. `planned_seconds` is the published length (inf for `before` and `after`).
    `warning_at` is the knock of an interview or the move notice of a review, if scheduled.
    """

    kind: PhaseKind
    round: int | None
    start: float
    end: float
    planned_seconds: float
    warning_at: float | None = None


@dataclass(frozen=True)
class Pause:
    """A completed pause: the clock stood still from `start` to `end`."""

    start: float
    end: float


@dataclass(frozen=True)
class DayPlan:
    """The day as contiguous phases plus the coordinator's pauses.

    Build it with `build_plan`; change it only through the adjustment functions, which keep the
    invariants (contiguous phases from -inf to +inf, pauses in order and before `paused_at`).
    `adjusted_at` is the instant of the latest adjustment.
    """

    phases: tuple[Phase, ...]
    timing: RoundTiming
    pauses: tuple[Pause, ...] = ()
    paused_at: float | None = None
    adjusted_at: float | None = None

    @property
    def start(self) -> float:
        """When the day begins (the end of the `before` phase)."""
        return self.phases[0].end

    @property
    def end(self) -> float:
        """When the day ends (the start of the `after` phase)."""
        return self.phases[-1].start

    @property
    def rounds(self) -> int:
        numbers = [p.round for p in self.phases if p.kind == "interview" and p.round is not None]
        return max(numbers, default=0)

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(frozen=True)
class PhaseState:
    """Where the day is at `at`.

    `at` is the instant the state describes: the asked time, or `paused_at` while paused.
    `elapsed` and `remaining` are active time (pauses left out); the open side of `before` and
    `after` is inf. `time_left_in_interview` is None outside an interview.
    """

    phase: Phase
    at: float
    elapsed: float
    remaining: float
    overtime: float
    paused: bool
    round: int | None
    time_left_in_interview: float | None

    @property
    def kind(self) -> PhaseKind:
        return self.phase.kind


@dataclass(frozen=True)
class ClockEvent:
    """A boundary the ticker fires; `key` identifies it within the plan."""

    kind: EventKind
    round: int | None
    at: float

    @property
    def key(self) -> tuple[EventKind, int | None]:
        return (self.kind, self.round)


# ---------------------------------------------------------------------------------------------
# Building


def _round_phases(timing: RoundTiming, number: int, start: float) -> tuple[Phase, Phase]:
    interview_end = start + timing.interview_seconds
    review_end = interview_end + timing.review_seconds
    return (
        Phase(
            "interview",
            number,
            start,
            interview_end,
            timing.interview_seconds,
            _warning(interview_end, timing.interview_seconds, timing.knock_seconds),
        ),
        Phase(
            "review",
            number,
            interview_end,
            review_end,
            timing.review_seconds,
            _warning(review_end, timing.review_seconds, timing.move_notice_seconds),
        ),
    )


def _warning(end: float, length: float, ahead: float) -> float | None:
    # A warning at or before the phase's start would say nothing the start did not.
    return end - ahead if 0 < ahead < length else None


def build_plan(source: PlanInput) -> DayPlan:
    timing = RoundTiming(
        source.interview_seconds,
        source.review_seconds,
        source.knock_seconds,
        source.move_notice_seconds,
    )
    phases: list[Phase] = [Phase("before", None, -math.inf, source.start, math.inf)]
    now = source.start
    if source.welcome_seconds > 0:
        phases.append(
            Phase("welcome", None, now, now + source.welcome_seconds, source.welcome_seconds)
        )
        now += source.welcome_seconds
    for number in range(1, source.rounds + 1):
        interview, review = _round_phases(timing, number, now)
        phases += (interview, review)
        now = review.end
        pause_after = source.breaks.get(number)
        if pause_after is not None:
            phases.append(Phase("break", number, now, now + pause_after, pause_after))
            now += pause_after
    if source.closing_seconds > 0:
        phases.append(
            Phase("closing", None, now, now + source.closing_seconds, source.closing_seconds)
        )
        now += source.closing_seconds
    phases.append(Phase("after", None, now, math.inf, math.inf))
    return DayPlan(tuple(phases), timing)


# ---------------------------------------------------------------------------------------------
# Looking up


def _index_at(plan: DayPlan, t: float) -> int:
    # The last phase starting at or before t; zero-length phases at t are passed over because a
    # later phase starts at the same instant.
    starts = [p.start for p in plan.phases]
    return bisect.bisect_right(starts, t) - 1


def _active_seconds(plan: DayPlan, a: float, b: float) -> float:
    if math.isinf(a) or math.isinf(b):
        return math.inf
    paused = sum(max(0.0, min(b, p.end) - max(a, p.start)) for p in plan.pauses)
    return (b - a) - paused


def phase_at(plan: DayPlan, t: float) -> PhaseState:
    paused = plan.paused_at is not None and t >= plan.paused_at
    now = plan.paused_at if paused and plan.paused_at is not None else t
    phase = plan.phases[_index_at(plan, now)]
    elapsed = _active_seconds(plan, phase.start, now)
    remaining = _active_seconds(plan, now, phase.end)
    overtime = (
        0.0 if math.isinf(phase.planned_seconds) else max(0.0, elapsed - phase.planned_seconds)
    )
    return PhaseState(
        phase=phase,
        at=now,
        elapsed=elapsed,
        remaining=remaining,
        overtime=overtime,
        paused=paused,
        round=phase.round,
        time_left_in_interview=remaining if phase.kind == "interview" else None,
    )


def _phase_events(phase: Phase) -> Iterator[ClockEvent]:
    # In time order within the phase: its start, its warning, its end.
    starts: dict[PhaseKind, EventKind] = {
        "welcome": "welcome_start",
        "interview": "move",
        "break": "break_start",
        "closing": "closing_start",
        "after": "day_end",
    }
    start_kind = starts.get(phase.kind)
    if start_kind is not None:
        yield ClockEvent(start_kind, phase.round, phase.start)
    if phase.kind == "interview":
        if phase.warning_at is not None:
            yield ClockEvent("knock", phase.round, phase.warning_at)
        yield ClockEvent("interview_end", phase.round, phase.end)
    elif phase.kind == "review":
        if phase.warning_at is not None:
            yield ClockEvent("move_notice", phase.round, phase.warning_at)
        yield ClockEvent("review_end", phase.round, phase.end)


def _all_events(plan: DayPlan) -> list[ClockEvent]:
    events = [event for phase in plan.phases for event in _phase_events(phase)]
    # Already in time order by construction; the stable sort only guards that claim.
    return sorted(events, key=lambda event: event.at)


def events_between(plan: DayPlan, t0: float, t1: float) -> list[ClockEvent]:
    """The events due in `(t0, t1]`, by time (ties in plan order).

    While paused, nothing after `paused_at` is due: those events move when the plan resumes.
    """
    if t1 < t0:
        raise ValueError(f"the window ends before it starts: ({t0}, {t1}]")
    limit = t1 if plan.paused_at is None else min(t1, plan.paused_at)
    return [event for event in _all_events(plan) if t0 < event.at <= limit]


def next_event_after(plan: DayPlan, t: float) -> ClockEvent | None:
    """The first event due after `t`, for a ticker to sleep until; None when none is due."""
    upcoming = events_between(plan, t, math.inf)
    return upcoming[0] if upcoming else None


# ---------------------------------------------------------------------------------------------
# Adjusting


def _shifted(phase: Phase, after: float, by: float) -> Phase:
    def move(instant: float) -> float:
        return instant + by if instant > after else instant

    return replace(
        phase,
        start=move(phase.start),
        end=move(phase.end),
        warning_at=None if phase.warning_at is None else move(phase.warning_at),
    )


def _truncated(phase: Phase, at: float) -> Phase:
    # The phase ends at `at`; a warning still to come is dropped with the rest of the phase.
    start = min(phase.start, at)
    warning = phase.warning_at if phase.warning_at is not None and phase.warning_at <= at else None
    return replace(phase, start=start, end=at, warning_at=warning)


def _check_in_order(plan: DayPlan, at: float) -> None:
    _require_finite("at", at)
    if plan.adjusted_at is not None and at < plan.adjusted_at:
        raise ValueError(
            f"adjustments must come in time order: {at} is before the previous one "
            f"at {plan.adjusted_at}"
        )


def _current_index(plan: DayPlan, now: float) -> int:
    index = _index_at(plan, now)
    if plan.phases[index].kind == "after":
        raise ValueError("the day is over")
    return index


def pause(plan: DayPlan, at: float) -> DayPlan:
    """Freeze the day at `at` (before the start, this delays the start)."""
    _check_in_order(plan, at)
    if plan.paused_at is not None:
        raise ValueError(f"the day is already paused (since {plan.paused_at})")
    _current_index(plan, at)
    return replace(plan, paused_at=at, adjusted_at=at)


def resume(plan: DayPlan, at: float) -> DayPlan:
    """Unfreeze: every instant after `paused_at` moves later by the paused duration."""
    if plan.paused_at is None:
        raise ValueError("the day is not paused")
    _check_in_order(plan, at)
    paused_at = plan.paused_at
    paused_for = at - paused_at
    pauses = (*plan.pauses, Pause(paused_at, at)) if paused_for > 0 else plan.pauses
    return replace(
        plan,
        phases=tuple(_shifted(p, paused_at, paused_for) for p in plan.phases),
        pauses=pauses,
        paused_at=None,
        adjusted_at=at,
    )


def extend(plan: DayPlan, at: float, seconds: float) -> DayPlan:
    """Lengthen the current phase by `seconds`; every later phase moves later.

    A knock or move notice still to come moves with the end; one already due stays put (it was
    fired). While paused, the phase current at `paused_at` is extended; before the day, this
    delays the start.
    """
    _check_in_order(plan, at)
    _require_finite("seconds", seconds)
    if seconds <= 0:
        raise ValueError(f"an extension must be positive, got {seconds}")
    now = at if plan.paused_at is None else plan.paused_at
    _current_index(plan, now)
    return replace(
        plan,
        phases=tuple(_shifted(p, now, seconds) for p in plan.phases),
        adjusted_at=at,
    )


def skip(plan: DayPlan, at: float) -> DayPlan:
    """End the current round (or the current break, welcome or closing) now.

    In an interview, its review is skipped too (left at zero length, so its events still fire
    now); before the day, the day starts now. Every later phase moves earlier. A paused plan is
    resumed first.
    """
    _check_in_order(plan, at)
    if plan.paused_at is not None:
        plan = resume(plan, at)
    first = _current_index(plan, at)
    phases = plan.phases
    last = first + 1 if phases[first].kind == "interview" else first
    earlier_by = at - phases[last].end
    return replace(
        plan,
        phases=(
            phases[:first]
            + tuple(_truncated(p, at) for p in phases[first : last + 1])
            + tuple(_shifted(p, -math.inf, earlier_by) for p in phases[last + 1 :])
        ),
        adjusted_at=at,
    )


def end_early(plan: DayPlan, at: float) -> DayPlan:
    """End the day now: the current phase ends at `at` and every later phase is dropped.

    A paused plan is resumed first. Before the day starts, this cancels it.
    """
    _check_in_order(plan, at)
    if plan.paused_at is not None:
        plan = resume(plan, at)
    current = _current_index(plan, at)
    after = Phase("after", None, at, math.inf, math.inf)
    return replace(
        plan,
        phases=(*plan.phases[:current], _truncated(plan.phases[current], at), after),
        adjusted_at=at,
    )


def append_rounds(plan: DayPlan, at: float, count: int) -> DayPlan:
    """Add `count` rounds after the last round (before closing), e.g. for late arrivals.

    The new rounds have the plan's round timing and no breaks; closing and the day's end move
    later. Refused once the rounds are over (the insertion point is not after `at`).
    """
    _check_in_order(plan, at)
    if count < 1:
        raise ValueError(f"append at least one round, got {count}")
    now = at if plan.paused_at is None else plan.paused_at
    insert = next(i for i, p in enumerate(plan.phases) if p.kind in ("closing", "after"))
    begin = plan.phases[insert].start
    if begin <= now:
        raise ValueError("the rounds are over: there is no later point to add rounds at")
    added: list[Phase] = []
    cursor = begin
    for number in range(plan.rounds + 1, plan.rounds + count + 1):
        interview, review = _round_phases(plan.timing, number, cursor)
        added += (interview, review)
        cursor = review.end
    later_by = cursor - begin
    return replace(
        plan,
        phases=(
            plan.phases[:insert]
            + tuple(added)
            + tuple(_shifted(p, -math.inf, later_by) for p in plan.phases[insert:])
        ),
        adjusted_at=at,
    )
