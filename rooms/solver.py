"""The itinerary solver: who is in which room in which round. Pure: data in, data out, no I/O.

Public API (ids are strings, rounds are numbered from 1; every type is a frozen dataclass)::

    RoomSpec(id, interviewer_ids: tuple[str, ...])
    Problem(rooms: tuple[RoomSpec, ...], rounds: int, applicants: tuple[str, ...],
            exclusions: frozenset[tuple[str, str]] = frozenset(),   # (applicant_id, interviewer_id)
            breaks_after: tuple[int, ...] = (),
            interviews_per_applicant: int | None = None)            # None: as many as possible
    Slot(round, room_id, applicant_id)
    Itinerary(slots: tuple[Slot, ...])   # .by_room() .by_applicant() .by_round()
                                         # .at(round, room_id) -> applicant_id | None
                                         # .slot_of(round, applicant_id) -> Slot | None
    solve(problem) -> Solution(itinerary | None, explanation: Infeasibility | None,
                               interviews_per_applicant: int, shortfall: Infeasibility | None)
    Infeasibility(code, message, applicant_ids, room_ids)
    validate(problem, itinerary) -> list[Violation(code, message, round, room_id,
                                                   applicant_id, interviewer_id)]
    move(problem, itinerary, round, applicant_id, room_id) -> Itinerary   # raises EditRejected
    swap(problem, itinerary, round, applicant_a, applicant_b) -> Itinerary  # raises EditRejected
    EditRejected(core.errors.Conflict)   # .violations, .edit; str() names constraint and people

Hard constraints (always held, checked by `validate`):
  * one applicant per room per round, one room per applicant per round;
  * no applicant visits the same room twice;
  * no applicant is ever in a room with an interviewer they are excluded from;
  * a complete itinerary (below) with room loads as even as possible.

A *complete itinerary* gives every applicant exactly the same number k of interviews, where k
is `interviews_per_applicant` when the problem demands it, otherwise the largest k for which such
an itinerary exists. Without exclusions k is the nominal `min(rounds, rooms, rooms * rounds //
applicants)`; conflicts of interest can lower it for everyone (equal treatment), and
`Solution.shortfall` then names the applicant and rooms that lowered it. Interviewer (= room)
loads differ by at most one, except where exclusions make that impossible; then no sequence of
moves could make them more even (the loads minimise the largest and maximise the smallest).

The default rotation is the MMI cyclic shift: interviewers stay, applicant i starts in room i
and moves to room i+1 each round. Fewer applicants than rooms: some rooms rest in some rounds
(starting rooms are spread evenly when applicants see fewer rooms than exist). More applicants
than rooms: *waves* of `len(rooms)` applicants rotate one after the other (4 rooms, 8 rounds,
8 applicants: applicants 1-4 in rounds 1-4, applicants 5-8 in rounds 5-8); with fewer rounds than
rooms each applicant sees `rounds` distinct rooms. When waves do not fit, applicants are laid end
to end along the rotation's diagonals. Exclusions that break the rotation are repaired, not
failed: the rooms of the affected applicants are re-chosen by augmenting paths and the rounds
fixed by alternating-path swaps (see `rooms.solver_graph`); all other slots stay where the
rotation put them. `solve` fails only when no complete itinerary exists with k >= 1.

`breaks_after` (rounds followed by a break) changes when rounds happen, not who meets whom; it
is only checked here. Results are deterministic: no randomness, no dependence on set order.

Codes: input `no_rooms`, `invalid_rounds`, `empty_id`, `duplicate_room`, `duplicate_applicant`,
`duplicate_interviewer`, `interviewer_in_two_rooms`, `room_without_interviewers`,
`unknown_exclusion`, `invalid_break`, `invalid_interviews_per_applicant`; feasibility
`capacity`, `exclusion`; itinerary `round_out_of_range`, `unknown_room`, `unknown_applicant`,
`room_double_booked`, `applicant_double_booked`, `repeat_room`, `exclusion`, `interview_count`,
`load_balance`.

Edits change one round and are validated against the same constraints; an edit is rejected
when the edited itinerary has a violation the original did not have (so an itinerary made
invalid by a later change of the problem can still be repaired edit by edit).
"""

from __future__ import annotations

from rooms.solver_check import input_violations, validate
from rooms.solver_graph import color_rounds, nominal_interviews
from rooms.solver_index import (
    Blocked,
    ProblemIndex,
    build_incidence,
    index_problem,
    starting_grid,
)
from rooms.solver_model import (
    EditRejected,
    Infeasibility,
    Itinerary,
    Problem,
    RoomSpec,
    Slot,
    Solution,
    Violation,
)

__all__ = [
    "EditRejected",
    "Infeasibility",
    "Itinerary",
    "Problem",
    "RoomSpec",
    "Slot",
    "Solution",
    "Violation",
    "move",
    "solve",
    "swap",
    "validate",
]


def solve(problem: Problem) -> Solution:
    """A complete itinerary for `problem`, or the constraint that makes one impossible."""
    errors = input_violations(problem)
    if errors:
        first = errors[0]
        return Solution(
            None,
            Infeasibility(
                first.code,
                first.message,
                applicant_ids=(first.applicant_id,) if first.applicant_id else (),
                room_ids=(first.room_id,) if first.room_id else (),
            ),
        )
    index = index_problem(problem)
    if index.applicant_count == 0:
        return Solution(Itinerary(()))
    too_small = _capacity_shortage(problem, index)
    if too_small is not None:
        return Solution(None, too_small)

    demanded = problem.interviews_per_applicant
    wanted = demanded or nominal_interviews(index.room_count, index.rounds, index.applicant_count)
    narrowest = min(range(index.applicant_count), key=lambda a: len(index.allowed_rooms[a]))
    usable = len(index.allowed_rooms[narrowest])
    shortfall: Infeasibility | None = None
    if usable < wanted:
        shortfall = _explain_excluded_rooms(index, narrowest, wanted)
        if usable == 0 or demanded is not None:
            return Solution(None, shortfall)
    highest = min(wanted, usable)
    lowest = wanted if demanded is not None else 1

    failure: Infeasibility | None = None
    for interviews in range(highest, lowest - 1, -1):
        seed = starting_grid(index, interviews)
        built = build_incidence(index, interviews, seed)
        if isinstance(built, Blocked):
            failure = _explain_blocked(index, built, interviews)
            shortfall = shortfall or failure
            continue
        triples = color_rounds(built, index.rounds, seed)
        slots = tuple(
            Slot(round_index + 1, index.room_ids[room], index.applicant_ids[applicant])
            for round_index, room, applicant in triples
        )
        return Solution(Itinerary(slots), None, interviews, shortfall)
    return Solution(None, failure)


def _capacity_shortage(problem: Problem, index: ProblemIndex) -> Infeasibility | None:
    rooms, rounds, applicants = index.room_count, index.rounds, index.applicant_count
    wanted = problem.interviews_per_applicant or 1
    if wanted > rounds:
        return Infeasibility(
            "capacity",
            f"{wanted} interviews per applicant need {wanted} rounds (one interview per round); "
            f"the session has {rounds}",
        )
    if wanted > rooms:
        return Infeasibility(
            "capacity",
            f"{wanted} interviews per applicant need {wanted} rooms (no room is visited twice); "
            f"the session has {rooms}",
        )
    if applicants * wanted > rooms * rounds:
        return Infeasibility(
            "capacity",
            f"{applicants} applicants × {wanted} interview(s) need {applicants * wanted} "
            f"room-rounds; {rooms} rooms × {rounds} rounds offer {rooms * rounds}",
            applicant_ids=index.applicant_ids,
        )
    return None


def _explain_excluded_rooms(index: ProblemIndex, applicant: int, wanted: int) -> Infeasibility:
    usable = len(index.allowed_rooms[applicant])
    # With no room at all, name everyone in that situation: each needs the coordinator's action.
    named = (
        [other for other in range(index.applicant_count) if not index.allowed_rooms[other]]
        if usable == 0
        else [applicant]
    )
    excluded = [
        (other, room)
        for other in named
        for room in range(index.room_count)
        if (other, room) in index.conflicts
    ]
    reasons = "; ".join(
        f"{index.applicant_ids[other]} with "
        + ", ".join(
            f"{' and '.join(index.conflicts[other, room])} in room {index.room_ids[room]}"
            for excluded_applicant, room in excluded
            if excluded_applicant == other
        )
        for other in named
    )
    names = ", ".join(index.applicant_ids[other] for other in named)
    if usable == 0:
        message = (
            f"applicant(s) {names} excluded from every room (conflicts of interest: {reasons})"
        )
    else:
        message = (
            f"applicant {names} may enter only {usable} room(s) (conflicts of interest: "
            f"{reasons}), so no applicant can be given {wanted} interviews"
        )
    return Infeasibility(
        "exclusion",
        message,
        applicant_ids=tuple(index.applicant_ids[other] for other in named),
        room_ids=tuple(dict.fromkeys(index.room_ids[room] for _, room in excluded)),
    )


def _explain_blocked(index: ProblemIndex, blocked: Blocked, interviews: int) -> Infeasibility:
    applicant_id = index.applicant_ids[blocked.applicant]
    full = sorted(blocked.full_rooms)
    return Infeasibility(
        "exclusion",
        f"applicant {applicant_id} cannot be given {interviews} interview(s): every room they "
        f"may still enter, directly or by moving others ("
        f"{', '.join(index.room_ids[room] for room in full) or 'none'}), is already full in "
        f"all {index.rounds} rounds, and conflicts of interest keep the applicants there out "
        "of the other rooms",
        applicant_ids=(applicant_id,),
        room_ids=tuple(index.room_ids[room] for room in full),
    )


def move(
    problem: Problem, itinerary: Itinerary, round: int, applicant_id: str, room_id: str
) -> Itinerary:
    """Put `applicant_id` in `room_id` during `round` (leaving the room they were in, if any);
    every other slot stays. Raises EditRejected naming the broken constraint and the people."""
    edit = f"moving applicant {applicant_id} to room {room_id} in round {round}"
    _check_references(problem, edit, round, (applicant_id,), room_id)
    current = itinerary.slot_of(round, applicant_id)
    if current is not None and current.room_id == room_id:
        return itinerary
    slots = [slot for slot in itinerary.slots if slot != current]
    slots.append(Slot(round, room_id, applicant_id))
    return accept_edit(problem, itinerary, Itinerary(tuple(slots)), edit)


def swap(
    problem: Problem, itinerary: Itinerary, round: int, applicant_a: str, applicant_b: str
) -> Itinerary:
    """Exchange what `applicant_a` and `applicant_b` do in `round` (their rooms, or one's room
    and the other's rest). To put an applicant in an empty room, use `move`."""
    edit = f"swapping applicants {applicant_a} and {applicant_b} in round {round}"
    _check_references(problem, edit, round, (applicant_a, applicant_b), None)
    slot_a, slot_b = itinerary.slot_of(round, applicant_a), itinerary.slot_of(round, applicant_b)
    if applicant_a == applicant_b or (slot_a is None and slot_b is None):
        return itinerary
    slots = [slot for slot in itinerary.slots if slot not in (slot_a, slot_b)]
    if slot_a is not None:
        slots.append(Slot(round, slot_a.room_id, applicant_b))
    if slot_b is not None:
        slots.append(Slot(round, slot_b.room_id, applicant_a))
    return accept_edit(problem, itinerary, Itinerary(tuple(slots)), edit)


def _check_references(
    problem: Problem,
    edit: str,
    round: int,
    applicant_ids: tuple[str, ...],
    room_id: str | None,
) -> None:
    found: list[Violation] = []
    if not 1 <= round <= problem.rounds:
        found.append(
            Violation(
                "round_out_of_range",
                f"round {round} does not exist; rounds run from 1 to {problem.rounds}",
                round=round,
            )
        )
    for applicant_id in applicant_ids:
        if applicant_id not in problem.applicants:
            found.append(
                Violation(
                    "unknown_applicant",
                    f"{applicant_id} is not booked in this session",
                    applicant_id=applicant_id,
                )
            )
    if room_id is not None and all(room.id != room_id for room in problem.rooms):
        found.append(
            Violation("unknown_room", f"room {room_id} is not in this session", room_id=room_id)
        )
    if found:
        raise EditRejected(edit, tuple(found))


def accept_edit(problem: Problem, before: Itinerary, after: Itinerary, edit: str) -> Itinerary:
    """`after`, unless it has a violation that `before` did not (then EditRejected)."""
    known = {violation.key() for violation in validate(problem, before)}
    introduced = tuple(
        violation for violation in validate(problem, after) if violation.key() not in known
    )
    if introduced:
        raise EditRejected(edit, introduced)
    return after
