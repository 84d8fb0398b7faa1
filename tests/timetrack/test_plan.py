"""The day plan: hand-computed examples, then properties over random plans and adjustments.

The reference day (`reference_plan`): 4 rounds of 20 min interview + 5 min review, a 10 min break
after round 2, knock 2 min before an interview ends, move notice 10 s before a review ends.
Offsets from S:

    round 1  interview [   0, 1200)  knock 1080   review [1200, 1500)  notice 1490
    round 2  interview [1500, 2700)  knock 2580   review [2700, 3000)  notice 2990
    break    [3000, 3600)
    round 3  interview [3600, 4800)  knock 4680   review [4800, 5100)  notice 5090
    round 4  interview [5100, 6300)  knock 6180   review [6300, 6600)  notice 6590
    after    [6600, inf)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timetrack.plan import (
    ClockEvent,
    DayPlan,
    PlanInput,
    append_rounds,
    build_plan,
    end_early,
    events_between,
    extend,
    next_event_after,
    pause,
    phase_at,
    resume,
    skip,
)

S = 1_800_000_000.0


def reference_plan() -> DayPlan:
    return build_plan(
        PlanInput(
            start=S,
            rounds=4,
            interview_seconds=20 * 60,
            review_seconds=5 * 60,
            breaks={2: 10 * 60},
        )
    )


def layout(plan: DayPlan) -> list[tuple[str, int | None, float, float]]:
    """The finite phases as (kind, round, start offset, end offset)."""
    return [(p.kind, p.round, p.start - S, p.end - S) for p in plan.phases[1:-1]]


def timeline(events: list[ClockEvent]) -> list[tuple[str, int | None, float]]:
    return [(e.kind, e.round, e.at - S) for e in events]


def everything(plan: DayPlan) -> list[ClockEvent]:
    return events_between(plan, -math.inf, math.inf)


# --- building ---------------------------------------------------------------------------------


def test_reference_day_phases() -> None:
    plan = reference_plan()
    assert plan.phases[0].kind == "before" and plan.phases[0].start == -math.inf
    assert plan.phases[-1].kind == "after" and plan.phases[-1].end == math.inf
    assert layout(plan) == [
        ("interview", 1, 0, 1200),
        ("review", 1, 1200, 1500),
        ("interview", 2, 1500, 2700),
        ("review", 2, 2700, 3000),
        ("break", 2, 3000, 3600),
        ("interview", 3, 3600, 4800),
        ("review", 3, 4800, 5100),
        ("interview", 4, 5100, 6300),
        ("review", 4, 6300, 6600),
    ]
    assert (plan.start, plan.end, plan.rounds) == (S, S + 6600, 4)


def test_reference_day_events() -> None:
    assert timeline(everything(reference_plan())) == [
        ("move", 1, 0),
        ("knock", 1, 1080),
        ("interview_end", 1, 1200),
        ("move_notice", 1, 1490),
        ("review_end", 1, 1500),
        ("move", 2, 1500),
        ("knock", 2, 2580),
        ("interview_end", 2, 2700),
        ("move_notice", 2, 2990),
        ("review_end", 2, 3000),
        ("break_start", 2, 3000),
        ("move", 3, 3600),
        ("knock", 3, 4680),
        ("interview_end", 3, 4800),
        ("move_notice", 3, 5090),
        ("review_end", 3, 5100),
        ("move", 4, 5100),
        ("knock", 4, 6180),
        ("interview_end", 4, 6300),
        ("move_notice", 4, 6590),
        ("review_end", 4, 6600),
        ("day_end", None, 6600),
    ]


def test_welcome_and_closing_are_meeting_room_phases() -> None:
    plan = build_plan(
        PlanInput(
            start=S,
            rounds=1,
            interview_seconds=600,
            review_seconds=60,
            welcome_seconds=900,
            closing_seconds=300,
        )
    )
    assert layout(plan) == [
        ("welcome", None, 0, 900),
        ("interview", 1, 900, 1500),
        ("review", 1, 1500, 1560),
        ("closing", None, 1560, 1860),
    ]
    assert timeline(everything(plan)) == [
        ("welcome_start", None, 0),
        ("move", 1, 900),
        ("knock", 1, 1380),
        ("interview_end", 1, 1500),
        ("move_notice", 1, 1550),
        ("review_end", 1, 1560),
        ("closing_start", None, 1560),
        ("day_end", None, 1860),
    ]


def test_warnings_only_inside_their_phase() -> None:
    # A 2 min interview cannot have a knock 2 min before its end; knock 0 turns it off.
    short = build_plan(PlanInput(start=S, rounds=1, interview_seconds=120, review_seconds=0))
    assert [e.kind for e in everything(short)] == [
        "move",
        "interview_end",
        "review_end",
        "day_end",
    ]
    quiet = build_plan(
        PlanInput(
            start=S,
            rounds=1,
            interview_seconds=600,
            review_seconds=60,
            knock_seconds=0,
            move_notice_seconds=0,
        )
    )
    assert "knock" not in {e.kind for e in everything(quiet)}
    assert "move_notice" not in {e.kind for e in everything(quiet)}


@pytest.mark.parametrize(
    "changes",
    [
        {"rounds": 0},
        {"interview_seconds": 0},
        {"review_seconds": -1},
        {"breaks": {4: 600}},
        {"breaks": {0: 600}},
        {"breaks": {1: 0}},
        {"knock_seconds": math.nan},
        {"start": math.inf},
    ],
)
def test_bad_input_is_refused(changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "start": S,
        "rounds": 4,
        "interview_seconds": 1200,
        "review_seconds": 300,
    }
    arguments.update(changes)
    with pytest.raises(ValueError):
        PlanInput(**arguments)  # type: ignore[arg-type]


# --- phase_at ---------------------------------------------------------------------------------


def test_phase_at_boundaries_are_half_open() -> None:
    plan = reference_plan()

    before = phase_at(plan, S - 30)
    assert (before.kind, before.remaining, before.elapsed) == ("before", 30, math.inf)

    first = phase_at(plan, S)
    assert (first.kind, first.round, first.elapsed, first.remaining) == ("interview", 1, 0, 1200)
    assert first.time_left_in_interview == 1200

    almost = phase_at(plan, S + 1199.5)
    assert (almost.kind, almost.time_left_in_interview) == ("interview", 0.5)

    # The instant an interview ends belongs to the review.
    review = phase_at(plan, S + 1200)
    assert (review.kind, review.round, review.elapsed, review.remaining) == ("review", 1, 0, 300)
    assert review.time_left_in_interview is None

    brk = phase_at(plan, S + 3000)
    assert (brk.kind, brk.round, brk.remaining) == ("break", 2, 600)
    assert phase_at(plan, S + 3600).kind == "interview"

    after = phase_at(plan, S + 6600)
    assert (after.kind, after.elapsed, after.remaining) == ("after", 0, math.inf)
    assert all(not phase_at(plan, S + x).paused for x in (0, 1200, 6600))
    assert all(phase_at(plan, S + x).overtime == 0 for x in (-5, 0, 1199, 3000, 7000))


def test_events_window_is_open_at_the_start_and_closed_at_the_end() -> None:
    plan = reference_plan()
    assert timeline(events_between(plan, S + 1200, S + 1500)) == [
        ("move_notice", 1, 1490),
        ("review_end", 1, 1500),
        ("move", 2, 1500),
    ]
    assert events_between(plan, S + 1500, S + 1500) == []
    with pytest.raises(ValueError):
        events_between(plan, S + 10, S)


def test_next_event_after() -> None:
    plan = reference_plan()
    upcoming = next_event_after(plan, S + 1080)
    assert upcoming is not None and timeline([upcoming]) == [("interview_end", 1, 1200)]
    assert next_event_after(plan, S + 6600) is None


# --- pause and resume -------------------------------------------------------------------------


def test_pause_freezes_and_resume_shifts_everything_later() -> None:
    paused = pause(reference_plan(), S + 600)  # 10 minutes into round 1

    frozen = phase_at(paused, S + 900)
    assert frozen.paused and frozen.at == S + 600
    assert (frozen.kind, frozen.elapsed, frozen.remaining) == ("interview", 600, 600)
    assert events_between(paused, S + 600, S + 9999) == []
    assert next_event_after(paused, S + 600) is None
    # Before the pause nothing changed.
    assert not phase_at(paused, S + 599).paused

    resumed = resume(paused, S + 900)  # paused for 5 minutes
    assert not resumed.paused
    assert layout(resumed)[:3] == [
        ("interview", 1, 0, 1500),
        ("review", 1, 1500, 1800),
        ("interview", 2, 1800, 3000),
    ]
    assert resumed.end == S + 6900
    # Knock still 2 min of interview time before the end.
    assert timeline(events_between(resumed, S, S + 1500))[:2] == [
        ("knock", 1, 1380),
        ("interview_end", 1, 1500),
    ]

    running = phase_at(resumed, S + 1000)
    assert (running.elapsed, running.remaining) == (700, 500)
    # Inside the (past) pause the clock stood still.
    during = phase_at(resumed, S + 700)
    assert (during.elapsed, during.remaining, during.paused) == (600, 600, False)


def test_a_pause_after_the_knock_keeps_the_knock() -> None:
    plan = resume(pause(reference_plan(), S + 1100), S + 1400)
    assert timeline(events_between(plan, S - 1, S + 1500)) == [
        ("move", 1, 0),
        ("knock", 1, 1080),
        ("interview_end", 1, 1500),
    ]


def test_pause_at_a_boundary_pauses_the_phase_that_starts_there() -> None:
    paused = pause(reference_plan(), S + 1200)
    assert phase_at(paused, S + 1300).kind == "review"
    # interview_end at the pause instant is due; nothing later is.
    assert timeline(events_between(paused, S + 1100, S + 5000)) == [("interview_end", 1, 1200)]
    resumed = resume(paused, S + 1260)
    assert layout(resumed)[:2] == [("interview", 1, 0, 1200), ("review", 1, 1200, 1560)]


def test_pause_and_resume_misuse_is_refused() -> None:
    paused = pause(reference_plan(), S + 10)
    with pytest.raises(ValueError, match="already paused"):
        pause(paused, S + 20)
    with pytest.raises(ValueError, match="not paused"):
        resume(reference_plan(), S + 20)
    with pytest.raises(ValueError, match="time order"):
        resume(paused, S + 5)
    with pytest.raises(ValueError, match="over"):
        pause(reference_plan(), S + 6600)


def test_pause_before_the_day_delays_the_start() -> None:
    plan = resume(pause(reference_plan(), S - 60), S + 60)
    assert plan.start == S + 120
    assert phase_at(plan, S + 119).kind == "before"


# --- extend -----------------------------------------------------------------------------------


def test_extend_after_the_knock_moves_later_rounds_and_shows_overtime() -> None:
    plan = extend(reference_plan(), S + 1100, 300)
    assert layout(plan)[:3] == [
        ("interview", 1, 0, 1500),
        ("review", 1, 1500, 1800),
        ("interview", 2, 1800, 3000),
    ]
    assert plan.end == S + 6900
    # The knock at 1080 was already due: it stays, it does not come twice.
    assert [e.at - S for e in everything(plan) if e.key == ("knock", 1)] == [1080]
    late = phase_at(plan, S + 1450)
    assert (late.kind, late.elapsed, late.remaining, late.overtime) == ("interview", 1450, 50, 250)


def test_extend_before_the_knock_moves_the_knock() -> None:
    plan = extend(reference_plan(), S + 600, 300)
    assert [e.at - S for e in everything(plan) if e.key == ("knock", 1)] == [1380]


def test_extend_a_break() -> None:
    plan = extend(reference_plan(), S + 3100, 600)
    assert layout(plan)[4:6] == [("break", 2, 3000, 4200), ("interview", 3, 4200, 5400)]
    assert plan.end == S + 7200


def test_extend_while_paused_extends_the_frozen_phase() -> None:
    plan = pause(reference_plan(), S + 1100)
    plan = extend(plan, S + 1300, 120)  # wall time is past the old interview end
    plan = resume(plan, S + 1400)
    assert layout(plan)[0] == ("interview", 1, 0, 1200 + 120 + 300)


def test_extend_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        extend(reference_plan(), S + 10, 0)
    with pytest.raises(ValueError, match="over"):
        extend(reference_plan(), S + 7000, 60)


# --- skip and end early -----------------------------------------------------------------------


def test_skip_during_an_interview_ends_the_round_now() -> None:
    plan = skip(reference_plan(), S + 2000)  # round 2 is 500 s in
    assert layout(plan)[2:6] == [
        ("interview", 2, 1500, 2000),
        ("review", 2, 2000, 2000),
        ("break", 2, 2000, 2600),
        ("interview", 3, 2600, 3800),
    ]
    assert plan.end == S + 5600
    # The round's remaining events come now; its knock and move notice never come.
    assert timeline(events_between(plan, S + 1999, S + 2600)) == [
        ("interview_end", 2, 2000),
        ("review_end", 2, 2000),
        ("break_start", 2, 2000),
        ("move", 3, 2600),
    ]
    assert phase_at(plan, S + 2000).kind == "break"


def test_skip_during_a_review_starts_the_next_round() -> None:
    plan = skip(reference_plan(), S + 1300)
    assert layout(plan)[1:3] == [("review", 1, 1200, 1300), ("interview", 2, 1300, 2500)]
    assert plan.end == S + 6400
    assert timeline(events_between(plan, S + 1200, S + 1300)) == [
        ("review_end", 1, 1300),
        ("move", 2, 1300),
    ]


def test_skip_before_the_day_starts_it_now() -> None:
    plan = skip(reference_plan(), S - 100)
    assert (plan.start, plan.end) == (S - 100, S + 6500)


def test_skip_while_paused_resumes_first() -> None:
    plan = skip(pause(reference_plan(), S + 1300), S + 1400)
    assert not plan.paused
    assert layout(plan)[1] == ("review", 1, 1200, 1400)
    assert [(p.start, p.end) for p in plan.pauses] == [(S + 1300, S + 1400)]


def test_end_early_drops_everything_later() -> None:
    plan = end_early(reference_plan(), S + 4000)
    assert layout(plan)[-1] == ("interview", 3, 3600, 4000)
    assert plan.end == S + 4000 and plan.rounds == 3
    assert timeline(events_between(plan, S + 3600, math.inf)) == [
        ("interview_end", 3, 4000),
        ("day_end", None, 4000),
    ]
    assert phase_at(plan, S + 4000).kind == "after"
    with pytest.raises(ValueError, match="over"):
        end_early(plan, S + 4100)


def test_end_early_while_paused_ends_at_the_command() -> None:
    plan = end_early(pause(reference_plan(), S + 100), S + 200)
    assert plan.end == S + 200 and not plan.paused


# --- append rounds ----------------------------------------------------------------------------


def test_append_rounds_after_the_last_round() -> None:
    plan = append_rounds(reference_plan(), S + 5000, 2)
    assert plan.rounds == 6
    assert layout(plan)[-4:] == [
        ("interview", 5, 6600, 7800),
        ("review", 5, 7800, 8100),
        ("interview", 6, 8100, 9300),
        ("review", 6, 9300, 9600),
    ]
    assert plan.end == S + 9600
    assert timeline(events_between(plan, S + 6599, S + 6600)) == [
        ("review_end", 4, 6600),
        ("move", 5, 6600),
    ]


def test_append_rounds_goes_before_closing() -> None:
    plan = build_plan(
        PlanInput(start=S, rounds=1, interview_seconds=600, review_seconds=60, closing_seconds=300)
    )
    plan = append_rounds(plan, S, 1)
    assert [p.kind for p in plan.phases] == [
        "before",
        "interview",
        "review",
        "interview",
        "review",
        "closing",
        "after",
    ]
    assert layout(plan)[-1] == ("closing", None, 1320, 1620)


def test_append_rounds_refused_once_the_rounds_are_over() -> None:
    with pytest.raises(ValueError, match="rounds are over"):
        append_rounds(reference_plan(), S + 6600, 1)
    with pytest.raises(ValueError):
        append_rounds(reference_plan(), S, 0)


def test_adjustments_must_come_in_time_order() -> None:
    plan = extend(reference_plan(), S + 500, 60)
    adjustments: list[Callable[[DayPlan], DayPlan]] = [
        lambda p: extend(p, S + 400, 60),
        lambda p: skip(p, S + 400),
        lambda p: pause(p, S + 400),
        lambda p: end_early(p, S + 400),
        lambda p: append_rounds(p, S + 400, 1),
    ]
    for adjust in adjustments:
        with pytest.raises(ValueError, match="time order"):
            adjust(plan)


def test_adjustments_compose_deterministically() -> None:
    def day() -> DayPlan:
        plan = pause(reference_plan(), S + 100)
        plan = extend(plan, S + 150, 60)
        plan = resume(plan, S + 200)
        plan = skip(plan, S + 1700)
        return append_rounds(plan, S + 1800, 1)

    assert day() == day()
    assert day().rounds == 5


# --- properties -------------------------------------------------------------------------------


@st.composite
def plan_inputs(draw: st.DrawFn) -> PlanInput:
    rounds = draw(st.integers(1, 6))
    minute = st.integers(1, 30).map(lambda m: m * 60.0)
    return PlanInput(
        start=S,
        rounds=rounds,
        interview_seconds=draw(minute),
        review_seconds=draw(st.integers(0, 10).map(lambda m: m * 60.0)),
        breaks=draw(st.dictionaries(st.integers(1, max(1, rounds - 1)), minute))
        if rounds > 1
        else {},
        welcome_seconds=draw(st.sampled_from([0.0, 600.0])),
        closing_seconds=draw(st.sampled_from([0.0, 900.0])),
        knock_seconds=draw(st.sampled_from([0.0, 60.0, 120.0])),
        move_notice_seconds=draw(st.sampled_from([0.0, 10.0])),
    )


@dataclass(frozen=True)
class Command:
    name: str  # pause/resume, extend, skip, end_early, append_rounds
    after: float  # seconds after the previous command (the first: after S - 300)
    amount: float


ticks = st.one_of(st.integers(1, 900), st.integers(1, 15).map(lambda m: m * 60))

commands = st.lists(
    st.builds(
        Command,
        st.sampled_from(["toggle_pause", "extend", "skip", "end_early", "append_rounds"]),
        # Whole minutes half the time: the plans are in minutes from S, so commands then land
        # exactly on phase boundaries, where off-by-one-instant mistakes live.
        st.one_of(st.integers(1, 1500), st.integers(1, 25).map(lambda m: m * 60)).map(float),
        st.integers(1, 900).map(float),
    ),
    max_size=8,
)


def apply(plan: DayPlan, command: Command, at: float) -> DayPlan | None:
    """The command at `at`, or None when it does not apply there (the day is over, ...)."""
    if phase_at(plan, at).kind == "after" and not plan.paused:
        return None
    if command.name == "toggle_pause":
        return resume(plan, at) if plan.paused else pause(plan, at)
    if command.name == "extend":
        return extend(plan, at, command.amount)
    if command.name == "skip":
        return skip(plan, at)
    if command.name == "end_early":
        return end_early(plan, at)
    if any(p.kind == "review" and p.end > (plan.paused_at or at) for p in plan.phases):
        return append_rounds(plan, at, 1 + int(command.amount) % 2)
    return None


def adjusted_days(source: PlanInput, script: list[Command]) -> list[tuple[float, DayPlan]]:
    """(instant, plan from then on) for each applied command, starting with the built plan."""
    plan = build_plan(source)
    history = [(-math.inf, plan)]
    at = S - 300
    for command in script:
        at += command.after
        changed = apply(plan, command, at)
        if changed is not None:
            plan = changed
            history.append((at, plan))
    return history


def assert_invariants(plan: DayPlan) -> None:
    phases = plan.phases
    assert phases[0].start == -math.inf and phases[-1].end == math.inf
    for phase, following in pairwise(phases):
        assert phase.end == following.start
    for phase in phases:
        assert phase.start <= phase.end
        if phase.warning_at is not None:
            assert phase.start <= phase.warning_at <= phase.end
    keys = [e.key for e in everything(plan)]
    assert len(keys) == len(set(keys)), "event keys must be unique within a plan"
    times = [e.at for e in everything(plan)]
    assert times == sorted(times)


@settings(max_examples=300, deadline=None)
@given(plan_inputs(), commands, st.lists(st.floats(0, 1, allow_nan=False), max_size=30))
def test_windows_never_repeat_or_lose_an_event(
    source: PlanInput, script: list[Command], cuts: list[float]
) -> None:
    plan = adjusted_days(source, script)[-1][1]
    assert_invariants(plan)
    lo, hi = S - 600, plan.end if math.isfinite(plan.end) else S + 1e5
    hi = max(hi, plan.paused_at or hi) + 600
    edges = [lo, *sorted(lo + c * (hi - lo) for c in cuts), hi]
    pieces = [events_between(plan, a, b) for a, b in pairwise(edges)]
    joined = [event for piece in pieces for event in piece]
    assert joined == events_between(plan, lo, hi)
    assert len({e.key for e in joined}) == len(joined)


@settings(max_examples=300, deadline=None)
@given(plan_inputs(), commands)
def test_adjustments_never_rewrite_the_past(source: PlanInput, script: list[Command]) -> None:
    history = adjusted_days(source, script)
    for (_, before), (at, after) in pairwise(history):
        assert_invariants(after)
        due_before = events_between(before, -math.inf, at)
        due_after = events_between(after, -math.inf, at)
        # Everything that was due stays as it was; only events at exactly `at` may be added.
        assert [e for e in due_after if e.at < at] == [e for e in due_before if e.at < at]
        assert set(due_before) <= set(due_after)
        assert all(e.at == at for e in set(due_after) - set(due_before))
        # Where the day was stays where it was (at `at` itself, skip moves on to the next phase).
        for t in (at - 1000, at - 1, at - 0.001):
            if not before.paused or t < (before.paused_at or t):
                assert phase_at(after, t).phase.kind == phase_at(before, t).phase.kind


@settings(max_examples=300, deadline=None)
@given(plan_inputs(), commands, st.lists(ticks, min_size=1, max_size=40))
def test_a_ticker_fires_every_event_exactly_once(
    source: PlanInput, script: list[Command], steps: list[int]
) -> None:
    # A ticker: at each tick, apply the command due then (if any), then fire (last, now].
    plan = build_plan(source)
    fired: dict[tuple[str, int | None], float] = {}
    last = now = S - 300
    pending = list(script)
    for step in steps:
        now += step
        if pending:
            changed = apply(plan, pending.pop(0), now)
            plan = changed if changed is not None else plan
        for event in events_between(plan, last, now):
            assert event.key not in fired, f"{event} fired twice"
            fired[event.key] = event.at
        last = now
    assert fired == {e.key: e.at for e in events_between(plan, -math.inf, now)}
