"""Tests of the pure itinerary solver: hand-checked cases, then properties over random sessions
checked with `validate` and with an independent brute-force oracle (Hall-type cut condition)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms.solver import (
    EditRejected,
    Itinerary,
    Problem,
    RoomSpec,
    Slot,
    Solution,
    move,
    solve,
    swap,
    validate,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def session(
    rooms: int,
    rounds: int,
    applicants: int,
    exclusions: tuple[tuple[str, str], ...] = (),
    *,
    breaks_after: tuple[int, ...] = (),
    interviews_per_applicant: int | None = None,
) -> Problem:
    """Rooms R1..Rn with interviewer In each, applicants A1..Am."""
    return Problem(
        rooms=tuple(RoomSpec(f"R{i}", (f"I{i}",)) for i in range(1, rooms + 1)),
        rounds=rounds,
        applicants=tuple(f"A{i}" for i in range(1, applicants + 1)),
        exclusions=frozenset(exclusions),
        breaks_after=breaks_after,
        interviews_per_applicant=interviews_per_applicant,
    )


def routes(itinerary: Itinerary) -> dict[str, list[tuple[int, str]]]:
    return {
        applicant: [(slot.round, slot.room_id) for slot in slots]
        for applicant, slots in sorted(itinerary.by_applicant().items())
    }


def solved(problem: Problem) -> Itinerary:
    solution = solve(problem)
    assert solution.itinerary is not None, solution.explanation
    assert validate(problem, solution.itinerary) == []
    return solution.itinerary


def room_loads(problem: Problem, itinerary: Itinerary) -> list[int]:
    counts = Counter(slot.room_id for slot in itinerary.slots)
    return [counts[room.id] for room in problem.rooms]


# --- the default rotation -------------------------------------------------------------------


def test_three_rooms_three_applicants_rotate_cyclically() -> None:
    assert routes(solved(session(3, 3, 3))) == {
        "A1": [(1, "R1"), (2, "R2"), (3, "R3")],
        "A2": [(1, "R2"), (2, "R3"), (3, "R1")],
        "A3": [(1, "R3"), (2, "R1"), (3, "R2")],
    }


def test_fewer_applicants_than_rooms_leave_rooms_resting_and_spread_starts() -> None:
    problem = session(4, 4, 2)
    itinerary = solved(problem)
    assert routes(itinerary) == {
        "A1": [(1, "R1"), (2, "R2"), (3, "R3"), (4, "R4")],
        "A2": [(1, "R3"), (2, "R4"), (3, "R1"), (4, "R2")],
    }
    assert itinerary.at(1, "R2") is None
    assert itinerary.at(1, "R3") == "A2"


def test_more_rounds_than_rooms_rest_at_the_end() -> None:
    itinerary = solved(session(3, 5, 3))
    assert set(itinerary.by_round()) == {1, 2, 3}
    assert all(len(slots) == 3 for slots in itinerary.by_applicant().values())


def test_more_applicants_than_rooms_rotate_in_waves() -> None:
    problem = session(4, 8, 8)
    solution = solve(problem)
    assert solution.itinerary is not None
    assert solution.interviews_per_applicant == 4
    by_applicant = routes(solution.itinerary)
    for number in range(1, 9):
        wave_start = 1 if number <= 4 else 5
        lane = (number - 1) % 4
        assert by_applicant[f"A{number}"] == [
            (wave_start + step, f"R{(lane + step) % 4 + 1}") for step in range(4)
        ]
    assert room_loads(problem, solution.itinerary) == [8, 8, 8, 8]


def test_fewer_rounds_than_rooms_each_applicant_sees_rounds_distinct_rooms() -> None:
    problem = session(4, 3, 4)
    itinerary = solved(problem)
    for slots in itinerary.by_applicant().values():
        assert [slot.round for slot in slots] == [1, 2, 3]
        assert len({slot.room_id for slot in slots}) == 3
    assert room_loads(problem, itinerary) == [3, 3, 3, 3]


def test_waves_that_do_not_fit_the_rounds_still_fill_every_slot_evenly() -> None:
    problem = session(4, 3, 6)  # 2 interviews each, 12 of 12 room-rounds used
    solution = solve(problem)
    assert solution.itinerary is not None
    assert solution.interviews_per_applicant == 2
    assert validate(problem, solution.itinerary) == []
    assert room_loads(problem, solution.itinerary) == [3, 3, 3, 3]


def test_no_applicants_gives_an_empty_itinerary() -> None:
    assert solve(session(3, 3, 0)) == Solution(Itinerary(()))


# --- exclusions: repair, shortfall, infeasibility -------------------------------------------


def test_exclusion_on_the_rotation_is_repaired_by_a_swap_in_its_round() -> None:
    problem = session(4, 2, 4, exclusions=(("A1", "I1"),))  # the rotation puts A1 in R1 first
    solution = solve(problem)
    assert solution.itinerary is not None
    assert solution.interviews_per_applicant == 2 and solution.shortfall is None
    assert validate(problem, solution.itinerary) == []
    assert "R1" not in {slot.room_id for slot in solution.itinerary.by_applicant()["A1"]}
    untouched = set(solved(session(4, 2, 4)).slots) & set(solution.itinerary.slots)
    assert len(untouched) == 6  # only A1's slot and its swap partner's moved


def test_exclusion_in_a_full_grid_is_repaired_without_losing_interviews() -> None:
    # 4 × 4 × 4 is a Latin square: every room-round is used, so the repair must re-route.
    problem = session(4, 4, 3, exclusions=(("A2", "I4"),))
    solution = solve(problem)
    assert solution.itinerary is not None
    assert solution.interviews_per_applicant == 3
    assert validate(problem, solution.itinerary) == []


def test_exclusion_that_caps_an_applicant_lowers_everyones_count_and_says_why() -> None:
    problem = session(3, 3, 3, exclusions=(("A1", "I1"),))
    solution = solve(problem)
    assert solution.itinerary is not None
    assert solution.interviews_per_applicant == 2
    assert solution.shortfall is not None
    assert solution.shortfall.code == "exclusion"
    assert solution.shortfall.applicant_ids == ("A1",)
    assert "I1" in solution.shortfall.message
    assert validate(problem, solution.itinerary) == []


def test_applicant_excluded_from_every_room_is_infeasible_naming_the_constraint() -> None:
    problem = session(3, 3, 2, exclusions=(("A2", "I1"), ("A2", "I2"), ("A2", "I3")))
    solution = solve(problem)
    assert solution.itinerary is None
    assert solution.explanation is not None
    assert solution.explanation.code == "exclusion"
    assert solution.explanation.applicant_ids == ("A2",)
    assert "every room" in solution.explanation.message


def test_applicants_crowded_into_too_few_rooms_is_infeasible() -> None:
    # Both may only use R2, which has one round: one of them cannot be placed.
    problem = session(2, 1, 2, exclusions=(("A1", "I1"), ("A2", "I1")))
    solution = solve(problem)
    assert solution.itinerary is None
    assert solution.explanation is not None
    assert solution.explanation.code == "exclusion"
    assert solution.explanation.room_ids == ("R2",)


def test_more_applicants_than_room_rounds_is_a_capacity_problem() -> None:
    solution = solve(session(2, 1, 3))
    assert solution.itinerary is None
    assert solution.explanation is not None
    assert solution.explanation.code == "capacity"
    assert "3 applicants" in solution.explanation.message


def test_demanded_interview_count_is_met_or_explained() -> None:
    fewer = solve(session(3, 3, 3, interviews_per_applicant=2))
    assert fewer.itinerary is not None
    assert all(len(s) == 2 for s in fewer.itinerary.by_applicant().values())

    too_many = solve(session(3, 3, 3, interviews_per_applicant=4))
    assert too_many.explanation is not None and too_many.explanation.code == "capacity"

    excluded = solve(session(3, 3, 3, (("A1", "I1"),), interviews_per_applicant=3))
    assert excluded.itinerary is None
    assert excluded.explanation is not None and excluded.explanation.code == "exclusion"


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        (Problem((), 3, ("A1",)), "no_rooms"),
        (session(3, 0, 3), "invalid_rounds"),
        (Problem((RoomSpec("R1", ("I1",)),), 1, ("A1", "A1")), "duplicate_applicant"),
        (Problem((RoomSpec("R1", ("I1",)), RoomSpec("R1", ("I2",))), 1, ()), "duplicate_room"),
        (Problem((RoomSpec("R1", ()),), 1, ("A1",)), "room_without_interviewers"),
        (
            Problem((RoomSpec("R1", ("I1",)), RoomSpec("R2", ("I1",))), 2, ("A1",)),
            "interviewer_in_two_rooms",
        ),
        (Problem((RoomSpec("R1", ("I1", "I1")),), 1, ("A1",)), "duplicate_interviewer"),
        (Problem((RoomSpec("R1", ("I1",)),), 1, ("",)), "empty_id"),
        (session(2, 2, 2, exclusions=(("A9", "I1"),)), "unknown_exclusion"),
        (session(2, 2, 2, exclusions=(("I1", "A1"),)), "unknown_exclusion"),
        (session(2, 2, 2, breaks_after=(2,)), "invalid_break"),
        (session(2, 3, 2, breaks_after=(1, 1)), "invalid_break"),
        (session(2, 2, 2, interviews_per_applicant=0), "invalid_interviews_per_applicant"),
    ],
)
def test_input_errors_are_explained_by_code(problem: Problem, code: str) -> None:
    solution = solve(problem)
    assert solution.itinerary is None
    assert solution.explanation is not None
    assert solution.explanation.code == code
    assert code in {violation.code for violation in validate(problem, Itinerary(()))}


def test_breaks_do_not_change_the_itinerary() -> None:
    assert solved(session(4, 4, 4, breaks_after=(2,))) == solved(session(4, 4, 4))


# --- validate -------------------------------------------------------------------------------


def test_validate_names_each_broken_constraint() -> None:
    problem = session(4, 3, 2, exclusions=(("A2", "I3"),))
    itinerary = Itinerary(
        (
            Slot(1, "R1", "A1"),
            Slot(1, "R1", "A2"),  # two applicants in R1
            Slot(2, "R1", "A1"),  # A1 back in R1
            Slot(2, "R3", "A2"),  # conflict of interest with I3
            Slot(3, "R2", "A2"),
            Slot(3, "R4", "A2"),  # A2 in two rooms at once
            Slot(4, "R2", "A1"),  # no round 4
            Slot(1, "R9", "A1"),  # no room R9
            Slot(2, "R2", "B7"),  # not booked
        )
    )
    codes = Counter(violation.code for violation in validate(problem, itinerary))
    assert codes == {
        "room_double_booked": 1,
        "repeat_room": 1,
        "exclusion": 1,
        "applicant_double_booked": 1,
        "round_out_of_range": 1,
        "unknown_room": 1,
        "unknown_applicant": 1,
    }


def test_validate_flags_unequal_counts_and_uneven_loads() -> None:
    problem = session(3, 3, 2)
    short = Itinerary((Slot(1, "R1", "A1"), Slot(1, "R2", "A2")))
    assert {v.code for v in validate(problem, short)} == {"interview_count"}

    problem = session(4, 2, 2)  # 2 interviews each over 4 rooms: loads must be 1, 1, 1, 1
    piled = Itinerary(
        (Slot(1, "R1", "A1"), Slot(2, "R2", "A1"), Slot(1, "R2", "A2"), Slot(2, "R1", "A2"))
    )
    violations = validate(problem, piled)
    assert {v.code for v in violations} == {"load_balance"}
    assert {v.room_id for v in violations} == {"R1", "R2"}


# --- edits ----------------------------------------------------------------------------------


def test_move_to_an_empty_room_is_accepted_and_touches_one_slot() -> None:
    problem = session(5, 2, 2)  # A1: R1, R2; A2: R3, R4; R5 idle
    itinerary = solved(problem)
    edited = move(problem, itinerary, 2, "A1", "R5")
    assert set(itinerary.slots) - set(edited.slots) == {Slot(2, "R2", "A1")}
    assert set(edited.slots) - set(itinerary.slots) == {Slot(2, "R5", "A1")}
    assert validate(problem, edited) == []
    assert move(problem, edited, 2, "A1", "R5") == edited  # already there: nothing to do


def test_move_into_an_excluded_room_is_rejected_naming_the_people() -> None:
    problem = session(5, 2, 2, exclusions=(("A1", "I5"),))
    itinerary = solved(problem)
    with pytest.raises(EditRejected) as rejected:
        move(problem, itinerary, 2, "A1", "R5")
    assert [v.code for v in rejected.value.violations] == ["exclusion"]
    assert "A1" in str(rejected.value) and "I5" in str(rejected.value)
    assert rejected.value.code == "exclusion"


@pytest.mark.parametrize(
    ("round_number", "applicant_id", "room_id", "code", "named"),
    [
        (1, "A1", "R3", "room_double_booked", ("A1", "A2")),
        (1, "A1", "R2", "repeat_room", ("A1", "R2")),
        (1, "A1", "R4", "load_balance", ("R1", "R4")),
        (3, "A1", "R1", "round_out_of_range", ("3",)),
        (1, "A7", "R1", "unknown_applicant", ("A7",)),
        (1, "A1", "R8", "unknown_room", ("R8",)),
    ],
)
def test_move_rejections_name_the_constraint(
    round_number: int, applicant_id: str, room_id: str, code: str, named: tuple[str, ...]
) -> None:
    problem = session(4, 2, 2)  # A1: R1, R2; A2: R3, R4; loads 1 each
    itinerary = solved(problem)
    with pytest.raises(EditRejected) as rejected:
        move(problem, itinerary, round_number, applicant_id, room_id)
    assert code in {v.code for v in rejected.value.violations}
    assert all(name in str(rejected.value) for name in named)


def test_move_of_a_resting_applicant_is_rejected_as_an_extra_interview() -> None:
    problem = session(6, 5, 12)  # two waves of 2 rounds: round 5 is empty
    itinerary = solved(problem)
    assert not itinerary.by_round().get(5)
    with pytest.raises(EditRejected) as rejected:
        move(problem, itinerary, 5, "A1", "R6")
    assert ("interview_count", "A1") in {
        (v.code, v.applicant_id) for v in rejected.value.violations
    }


def test_swap_exchanges_two_rooms_and_keeps_the_rest() -> None:
    problem = session(4, 2, 4)  # A1: R1, R2; A2: R2, R3; A3: R3, R4; A4: R4, R1
    itinerary = solved(problem)
    edited = swap(problem, itinerary, 1, "A1", "A3")
    assert edited.at(1, "R1") == "A3" and edited.at(1, "R3") == "A1"
    assert len(set(itinerary.slots) & set(edited.slots)) == 6
    assert validate(problem, edited) == []


def test_swap_rejections_name_the_constraint() -> None:
    problem = session(4, 2, 4, exclusions=(("A3", "I1"),))
    itinerary = solved(problem)
    with pytest.raises(EditRejected) as into_conflict:
        swap(problem, itinerary, 1, "A1", "A3")
    assert {v.code for v in into_conflict.value.violations} == {"exclusion"}

    with pytest.raises(EditRejected) as back_again:
        swap(problem, itinerary, 1, "A1", "A2")  # A1 would see R2 in rounds 1 and 2
    assert "repeat_room" in {v.code for v in back_again.value.violations}

    waves = session(6, 4, 12)  # A1: R1, R2 in rounds 1-2; A8: R2, R3 in rounds 3-4
    with pytest.raises(EditRejected) as with_resting:
        swap(waves, solved(waves), 1, "A1", "A8")  # A8 rests in round 1
    assert {v.applicant_id for v in with_resting.value.violations} == {"A1", "A8"}
    assert {v.code for v in with_resting.value.violations} == {"interview_count"}


def test_an_itinerary_broken_by_a_new_exclusion_can_be_repaired_by_edits() -> None:
    itinerary = solved(session(4, 2, 4))
    changed = session(4, 2, 4, exclusions=(("A1", "I1"),))
    assert [v.code for v in validate(changed, itinerary)] == ["exclusion"]
    repaired = swap(changed, itinerary, 1, "A1", "A3")
    assert validate(changed, repaired) == []


# --- determinism ----------------------------------------------------------------------------


def test_same_input_same_itinerary_even_across_hash_seeds() -> None:
    script = (
        "from tests.rooms.test_solver import session, solve\n"
        "p = session(6, 4, 9, exclusions=tuple((f'A{a}', f'I{a % 6 + 1}') for a in range(1, 10)))\n"
        "print(solve(p))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert "Itinerary" in outputs.pop()


# --- properties -----------------------------------------------------------------------------


@st.composite
def problems(draw: st.DrawFn, *, max_applicants: int = 9) -> Problem:
    room_count = draw(st.integers(1, 6))
    rounds = draw(st.integers(1, 6))
    applicant_count = draw(st.integers(0, min(room_count * rounds, max_applicants)))
    rooms = tuple(
        RoomSpec(f"R{r}", tuple(f"I{r}{x}" for x in "ab"[: draw(st.integers(1, 2))]))
        for r in range(room_count)
    )
    applicants = tuple(f"A{a}" for a in range(applicant_count))
    pairs = [(a, i) for a in applicants for room in rooms for i in room.interviewer_ids]
    exclusions = draw(st.sets(st.sampled_from(pairs), max_size=8)) if pairs else set()
    return Problem(rooms, rounds, applicants, frozenset(exclusions))


def allowed_rooms(problem: Problem) -> list[set[int]]:
    return [
        {
            r
            for r, room in enumerate(problem.rooms)
            if not any((applicant, i) in problem.exclusions for i in room.interviewer_ids)
        }
        for applicant in problem.applicants
    ]


def fits(allowed: list[set[int]], room_count: int, interviews: int, room_cap: int) -> bool:
    """Brute-force max-flow min-cut: every applicant can get `interviews` distinct allowed
    rooms with at most `room_cap` applicants per room iff for every applicant subset S,
    interviews * |S| <= sum over rooms of min(room_cap, members of S allowed there). Rounds
    never bind on their own (a bipartite graph of degree <= rounds has a rounds-colouring)."""
    for size in range(1, len(allowed) + 1):
        for subset in itertools.combinations(allowed, size):
            supply = sum(
                min(room_cap, sum(room in rooms for rooms in subset)) for room in range(room_count)
            )
            if interviews * size > supply:
                return False
    return True


def oracle_interviews(problem: Problem) -> int:
    allowed = allowed_rooms(problem)
    top = min(problem.rounds, len(problem.rooms))
    return next(
        (k for k in range(top, 0, -1) if fits(allowed, len(problem.rooms), k, problem.rounds)),
        0,
    )


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(problems())
def test_every_solution_satisfies_every_constraint_and_is_as_full_and_even_as_possible(
    problem: Problem,
) -> None:
    solution = solve(problem)
    best = oracle_interviews(problem) if problem.applicants else 0
    if solution.itinerary is None:
        assert best == 0
        assert solution.explanation is not None
        assert solution.explanation.code in {"exclusion", "capacity"}
        return
    assert validate(problem, solution.itinerary) == []
    assert solution.interviews_per_applicant == best
    counts = Counter(slot.applicant_id for slot in solution.itinerary.slots)
    assert all(counts[applicant] == best for applicant in problem.applicants)
    loads = room_loads(problem, solution.itinerary)
    if not problem.exclusions:
        assert max(loads) - min(loads) <= 1
    elif problem.applicants:
        # The heaviest room is as light as any assignment allows.
        allowed, rooms = allowed_rooms(problem), len(problem.rooms)
        assert not fits(allowed, rooms, best, max(loads) - 1)
    assert solve(problem) == solution


@PROPERTY_SETTINGS
@given(problems(max_applicants=6), st.data())
def test_an_applicant_excluded_everywhere_is_explained(
    problem: Problem, data: st.DataObject
) -> None:
    if not problem.applicants:
        return
    victim = data.draw(st.sampled_from(problem.applicants))
    every_room = {(victim, room.interviewer_ids[0]) for room in problem.rooms}
    solution = solve(
        Problem(problem.rooms, problem.rounds, problem.applicants, problem.exclusions | every_room)
    )
    assert solution.itinerary is None
    assert solution.explanation is not None
    assert solution.explanation.code == "exclusion"
    assert victim in solution.explanation.applicant_ids


@PROPERTY_SETTINGS
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4))
def test_too_many_applicants_is_a_capacity_problem(rooms: int, rounds: int, extra: int) -> None:
    solution = solve(session(rooms, rounds, rooms * rounds + extra))
    assert solution.explanation is not None
    assert solution.explanation.code == "capacity"


@PROPERTY_SETTINGS
@given(problems(), st.data())
def test_edits_either_keep_every_constraint_or_say_which_they_break(
    problem: Problem, data: st.DataObject
) -> None:
    itinerary = solve(problem).itinerary
    if itinerary is None or not problem.applicants:
        return
    round_number = data.draw(st.integers(1, problem.rounds))
    applicant = data.draw(st.sampled_from(problem.applicants))
    try:
        if data.draw(st.booleans()):
            room_id = data.draw(st.sampled_from([room.id for room in problem.rooms]))
            edited = move(problem, itinerary, round_number, applicant, room_id)
        else:
            other = data.draw(st.sampled_from(problem.applicants))
            edited = swap(problem, itinerary, round_number, applicant, other)
    except EditRejected as rejected:
        assert rejected.violations
        assert rejected.code == rejected.violations[0].code
        return
    assert validate(problem, edited) == []
    changed = set(itinerary.slots) ^ set(edited.slots)
    assert all(slot.round == round_number for slot in changed)
