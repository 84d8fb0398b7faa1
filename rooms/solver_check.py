"""Constraint checks: `input_violations` (the problem itself) and `validate` (an itinerary)."""

from __future__ import annotations

from collections import defaultdict

from rooms.solver_graph import Incidence
from rooms.solver_index import ProblemIndex, index_problem, max_interviews
from rooms.solver_model import Itinerary, Problem, Slot, Violation


def input_violations(problem: Problem) -> list[Violation]:
    """Errors in the problem itself, in a stable order (the first is the one `solve` reports)."""
    found: list[Violation] = []
    if not problem.rooms:
        found.append(Violation("no_rooms", "the session has no interviewer rooms"))
    if not isinstance(problem.rounds, int) or problem.rounds < 1:
        found.append(Violation("invalid_rounds", f"rounds must be 1 or more, got {problem.rounds}"))
    found += _room_violations(problem)
    found += _applicant_violations(problem)
    found += _exclusion_violations(problem)
    rounds = problem.rounds if isinstance(problem.rounds, int) else 0
    seen_breaks: set[int] = set()
    for after in problem.breaks_after:
        if not 1 <= after < rounds or after in seen_breaks:
            found.append(
                Violation(
                    "invalid_break",
                    f"a break after round {after} must fall between rounds 1 and {rounds} "
                    "and be listed once",
                    round=after,
                )
            )
        seen_breaks.add(after)
    wanted = problem.interviews_per_applicant
    if wanted is not None and wanted < 1:
        found.append(
            Violation(
                "invalid_interviews_per_applicant",
                f"interviews per applicant must be 1 or more (or None for the most), got {wanted}",
            )
        )
    return found


def _room_violations(problem: Problem) -> list[Violation]:
    found: list[Violation] = []
    room_of_interviewer: dict[str, str] = {}
    seen_rooms: set[str] = set()
    for room in problem.rooms:
        if not room.id:
            found.append(Violation("empty_id", "a room has an empty id"))
        if room.id in seen_rooms:
            found.append(
                Violation("duplicate_room", f"room {room.id} is listed twice", room_id=room.id)
            )
        seen_rooms.add(room.id)
        if not room.interviewer_ids:
            found.append(
                Violation(
                    "room_without_interviewers",
                    f"room {room.id} has no interviewer",
                    room_id=room.id,
                )
            )
        for interviewer_id in room.interviewer_ids:
            if not interviewer_id:
                found.append(
                    Violation("empty_id", f"room {room.id} has an interviewer with an empty id")
                )
            elsewhere = room_of_interviewer.get(interviewer_id)
            if elsewhere == room.id:
                found.append(
                    Violation(
                        "duplicate_interviewer",
                        f"interviewer {interviewer_id} is listed twice in room {room.id}",
                        room_id=room.id,
                        interviewer_id=interviewer_id,
                    )
                )
            elif elsewhere is not None:
                found.append(
                    Violation(
                        "interviewer_in_two_rooms",
                        f"interviewer {interviewer_id} is listed in rooms {elsewhere} and "
                        f"{room.id}; an interviewer stays in one room",
                        room_id=room.id,
                        interviewer_id=interviewer_id,
                    )
                )
            room_of_interviewer.setdefault(interviewer_id, room.id)
    return found


def _applicant_violations(problem: Problem) -> list[Violation]:
    found: list[Violation] = []
    seen: set[str] = set()
    for applicant_id in problem.applicants:
        if not applicant_id:
            found.append(Violation("empty_id", "an applicant has an empty id"))
        elif applicant_id in seen:
            found.append(
                Violation(
                    "duplicate_applicant",
                    f"applicant {applicant_id} is booked twice",
                    applicant_id=applicant_id,
                )
            )
        seen.add(applicant_id)
    return found


def _exclusion_violations(problem: Problem) -> list[Violation]:
    # An exclusion naming someone unknown is most likely a typo, and silently ignoring it could
    # let a conflict of interest through: reject it so the caller filters on purpose.
    applicants = set(problem.applicants)
    interviewers = {person for room in problem.rooms for person in room.interviewer_ids}
    return [
        Violation(
            "unknown_exclusion",
            f"exclusion ({applicant_id}, {interviewer_id}) names "
            + (
                f"no booked applicant {applicant_id}"
                if applicant_id not in applicants
                else f"no interviewer {interviewer_id} of this session"
            ),
            applicant_id=applicant_id,
            interviewer_id=interviewer_id,
        )
        for applicant_id, interviewer_id in sorted(problem.exclusions)
        if applicant_id not in applicants or interviewer_id not in interviewers
    ]


def validate(problem: Problem, itinerary: Itinerary) -> list[Violation]:
    """Every constraint, checked: the problem's own input errors, then each slot (known room,
    applicant and round; no conflict of interest), nobody in two places at once, no room
    visited twice, every applicant with the same (largest achievable or demanded) number of
    interviews, and room loads as even as the exclusions allow. Empty list = valid."""
    found = input_violations(problem)
    index = index_problem(problem)
    known = [slot for slot in itinerary.slots if not _reference_violations(index, slot, found)]
    for slot in known:
        room = index.room_number[slot.room_id]
        for interviewer_id in index.conflicts.get(
            (index.applicant_number[slot.applicant_id], room), ()
        ):
            found.append(
                Violation(
                    "exclusion",
                    f"applicant {slot.applicant_id} must not meet interviewer {interviewer_id} "
                    f"(conflict of interest) but is in room {slot.room_id} in round {slot.round}",
                    round=slot.round,
                    room_id=slot.room_id,
                    applicant_id=slot.applicant_id,
                    interviewer_id=interviewer_id,
                )
            )
    found += _double_bookings(index, known)
    if not found:
        found += _count_and_balance_violations(problem, index, known)
    return found


def _reference_violations(index: ProblemIndex, slot: Slot, found: list[Violation]) -> bool:
    before = len(found)
    where = f"in round {slot.round}, room {slot.room_id}"
    if not 1 <= slot.round <= index.rounds:
        found.append(
            Violation(
                "round_out_of_range",
                f"applicant {slot.applicant_id} is placed in round {slot.round}; "
                f"rounds run from 1 to {index.rounds}",
                round=slot.round,
                room_id=slot.room_id,
                applicant_id=slot.applicant_id,
            )
        )
    if slot.room_id not in index.room_number:
        found.append(
            Violation(
                "unknown_room",
                f"applicant {slot.applicant_id} is placed {where}, which is not in the session",
                round=slot.round,
                room_id=slot.room_id,
                applicant_id=slot.applicant_id,
            )
        )
    if slot.applicant_id not in index.applicant_number:
        found.append(
            Violation(
                "unknown_applicant",
                f"{slot.applicant_id} is placed {where} but is not booked in the session",
                round=slot.round,
                room_id=slot.room_id,
                applicant_id=slot.applicant_id,
            )
        )
    return len(found) > before


def _double_bookings(index: ProblemIndex, slots: list[Slot]) -> list[Violation]:
    in_room: defaultdict[tuple[int, str], list[str]] = defaultdict(list)
    whereabouts: defaultdict[tuple[int, str], list[str]] = defaultdict(list)
    visits: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for slot in slots:
        in_room[slot.round, slot.room_id].append(slot.applicant_id)
        whereabouts[slot.round, slot.applicant_id].append(slot.room_id)
        visits[slot.applicant_id, slot.room_id].append(slot.round)
    found: list[Violation] = []
    for (round_number, room_id), applicant_ids in in_room.items():
        if len(applicant_ids) > 1:
            room_label = index.room_label(index.room_number[room_id])
            found.append(
                Violation(
                    "room_double_booked",
                    f"room {room_label} would hold applicants {' and '.join(applicant_ids)} in "
                    f"round {round_number}; a room takes one applicant per round",
                    round=round_number,
                    room_id=room_id,
                    applicant_id=applicant_ids[0],
                )
            )
    for (round_number, applicant_id), room_ids in whereabouts.items():
        if len(room_ids) > 1:
            found.append(
                Violation(
                    "applicant_double_booked",
                    f"applicant {applicant_id} would be in rooms {' and '.join(room_ids)} at "
                    f"once in round {round_number}",
                    round=round_number,
                    applicant_id=applicant_id,
                )
            )
    for (applicant_id, room_id), round_numbers in visits.items():
        if len(round_numbers) > 1:
            found.append(
                Violation(
                    "repeat_room",
                    f"applicant {applicant_id} would visit room {room_id} twice (rounds "
                    f"{', '.join(map(str, round_numbers))}); each room is visited once",
                    round=round_numbers[1],
                    room_id=room_id,
                    applicant_id=applicant_id,
                )
            )
    return found


def _count_and_balance_violations(
    problem: Problem, index: ProblemIndex, slots: list[Slot]
) -> list[Violation]:
    """Only meaningful for a structurally sound itinerary: equal interview counts at the
    largest achievable (or demanded) k, then room loads that no chain of moves could even out."""
    incidence = Incidence(index.allowed_rooms, index.room_count)
    for slot in slots:
        incidence.add(index.applicant_number[slot.applicant_id], index.room_number[slot.room_id])
    counts = [len(rooms) for rooms in incidence.rooms_of]
    expected = problem.interviews_per_applicant
    if expected is None:
        ceiling = index.interview_ceiling()
        # The ceiling is an upper bound, so reaching it everywhere needs no search.
        expected = ceiling if set(counts) <= {ceiling} else max_interviews(index)
    found = [
        Violation(
            "interview_count",
            f"applicant {index.applicant_ids[applicant]} would have {count} interview(s); "
            f"every applicant should have {expected}",
            applicant_id=index.applicant_ids[applicant],
        )
        for applicant, count in enumerate(counts)
        if count != expected
    ]
    loads = incidence.loads()
    for heavy, light in incidence.unbalanced_pairs():
        found.append(
            Violation(
                "load_balance",
                f"room {index.room_label(heavy)} would have {loads[heavy]} interviews while "
                f"room {index.room_label(light)} has {loads[light]}; interviewer loads must "
                "differ by at most one where the exclusions allow",
                room_id=index.room_ids[heavy],
            )
        )
    return found
