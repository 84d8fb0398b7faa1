"""Swapping two applicants in one round when a plain swap would break the rotation.

In a full rotation (as many applicants and rounds as rooms) no plain swap is ever valid: the
two applicants would each visit some room twice. What a coordinator means by "swap these two in
round 2" is that round 2 must look that way; the two may trade places in other rounds too, as
long as nobody else moves. `swap_in_round` does the plain swap when it is valid, and otherwise
the fewest extra trades between the same two applicants that make the day valid again.
"""

from __future__ import annotations

import itertools

from rooms.solver import EditRejected, Itinerary, Problem, Slot, accept_edit, swap

# Each extra round traded doubles the candidates; this bounds the search on long days.
MAX_CANDIDATES = 20_000


def _trade(itinerary: Itinerary, round: int, a: str, b: str) -> Itinerary:
    slot_a, slot_b = itinerary.slot_of(round, a), itinerary.slot_of(round, b)
    slots = [s for s in itinerary.slots if s not in (slot_a, slot_b)]
    if slot_a is not None:
        slots.append(Slot(round, slot_a.room_id, b))
    if slot_b is not None:
        slots.append(Slot(round, slot_b.room_id, a))
    return Itinerary(tuple(slots))


def swap_in_round(
    problem: Problem, itinerary: Itinerary, round: int, applicant_a: str, applicant_b: str
) -> tuple[Itinerary, tuple[int, ...]]:
    """Returns the new itinerary and the other rounds in which the two also traded places.
    Raises the plain swap's `EditRejected` when no set of extra trades makes it valid."""
    try:
        return swap(problem, itinerary, round, applicant_a, applicant_b), ()
    except EditRejected as rejected:
        first_error = rejected
    swapped = _trade(itinerary, round, applicant_a, applicant_b)
    others = [
        r
        for r in range(1, problem.rounds + 1)
        if r != round
        and (itinerary.slot_of(r, applicant_a) or itinerary.slot_of(r, applicant_b)) is not None
    ]
    tried = 0
    for size in range(1, len(others) + 1):
        for extra in itertools.combinations(others, size):
            tried += 1
            if tried > MAX_CANDIDATES:
                raise first_error
            candidate = swapped
            for other in extra:
                candidate = _trade(candidate, other, applicant_a, applicant_b)
            try:
                return accept_edit(problem, itinerary, candidate, "swap"), extra
            except EditRejected:
                continue
    raise first_error
