"""The bridge between the public types (string ids, 1-based rounds) and the integer world of
`rooms.solver_graph` (0-based indices in problem order)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rooms.solver_graph import Incidence, nominal_interviews, repair_locally, rotation
from rooms.solver_model import Problem


@dataclass(frozen=True, slots=True)
class ProblemIndex:
    """A problem with every id replaced by its position. Tolerates bad input (the first of
    duplicated ids wins) so that `validate` can still say something useful about it."""

    room_ids: tuple[str, ...]
    applicant_ids: tuple[str, ...]
    rounds: int
    room_number: Mapping[str, int]
    applicant_number: Mapping[str, int]
    interviewer_ids: tuple[tuple[str, ...], ...]
    # (applicant, room) -> the room's interviewers that applicant must not meet.
    conflicts: Mapping[tuple[int, int], tuple[str, ...]]
    allowed_rooms: tuple[tuple[int, ...], ...]

    @property
    def room_count(self) -> int:
        return len(self.room_ids)

    @property
    def applicant_count(self) -> int:
        return len(self.applicant_ids)

    def room_label(self, room: int) -> str:
        """`R1 (interviewers I1, I2)`: rooms are named with the people in them."""
        return f"{self.room_ids[room]} ({', '.join(self.interviewer_ids[room]) or 'no one'})"

    def interview_ceiling(self) -> int:
        """No applicant can have more interviews than the rooms they may enter, so with equal
        counts nobody gets more than the most constrained applicant."""
        nominal = nominal_interviews(self.room_count, self.rounds, self.applicant_count)
        return min([nominal, *(len(rooms) for rooms in self.allowed_rooms)])


def index_problem(problem: Problem) -> ProblemIndex:
    room_number: dict[str, int] = {}
    interviewer_ids: list[tuple[str, ...]] = []
    room_of_interviewer: dict[str, int] = {}
    for room in problem.rooms:
        if room.id in room_number:
            continue
        room_number[room.id] = len(room_number)
        interviewer_ids.append(room.interviewer_ids)
        for interviewer_id in room.interviewer_ids:
            room_of_interviewer.setdefault(interviewer_id, room_number[room.id])
    applicant_number: dict[str, int] = {}
    for applicant_id in problem.applicants:
        applicant_number.setdefault(applicant_id, len(applicant_number))

    conflicts: dict[tuple[int, int], tuple[str, ...]] = {}
    # Sorted: frozenset order depends on the process's string hash seed; results must not.
    for applicant_id, interviewer_id in sorted(problem.exclusions):
        if applicant_id in applicant_number and interviewer_id in room_of_interviewer:
            pair = (applicant_number[applicant_id], room_of_interviewer[interviewer_id])
            conflicts[pair] = (*conflicts.get(pair, ()), interviewer_id)

    room_count = len(room_number)
    allowed_rooms = tuple(
        tuple(room for room in range(room_count) if (applicant, room) not in conflicts)
        for applicant in range(len(applicant_number))
    )
    rounds = problem.rounds if isinstance(problem.rounds, int) and problem.rounds > 0 else 0
    return ProblemIndex(
        room_ids=tuple(room_number),
        applicant_ids=tuple(applicant_number),
        rounds=rounds,
        room_number=room_number,
        applicant_number=applicant_number,
        interviewer_ids=tuple(interviewer_ids),
        conflicts=conflicts,
        allowed_rooms=allowed_rooms,
    )


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why an incidence with k interviews each cannot be built: `applicant` cannot get its k-th
    room, and `full_rooms` are all the rooms a chain of moves could reach (each full)."""

    applicant: int
    full_rooms: frozenset[int]


def build_incidence(
    index: ProblemIndex, interviews: int, seed: Sequence[tuple[int, int, int]]
) -> Incidence | Blocked:
    """Rooms for every applicant, `interviews` each, as close to `seed` (the default rotation)
    as exclusions allow, with room loads as even as possible. Exact: returns Blocked only when
    no assignment exists (augmenting paths decide a b-matching exactly, and an applicant that
    cannot be augmented never becomes augmentable later)."""
    incidence = Incidence(index.allowed_rooms, index.room_count)
    for _, room, applicant in seed:
        if (applicant, room) not in index.conflicts:
            incidence.add(applicant, room)
    # Try the even share first so repairs land in light rooms; the full round count is the
    # hard limit.
    even_share = -(-index.applicant_count * interviews // index.room_count)
    for applicant in range(index.applicant_count):
        while len(incidence.rooms_of[applicant]) < interviews:
            if even_share < index.rounds and incidence.augment(applicant, even_share) is None:
                continue
            full_rooms = incidence.augment(applicant, index.rounds)
            if full_rooms is not None:
                return Blocked(applicant, full_rooms)
    incidence.balance()
    return incidence


def starting_grid(index: ProblemIndex, interviews: int) -> list[tuple[int, int, int]]:
    """The default rotation for `interviews` each, with excluded slots fixed locally where
    possible (round, room, applicant triples): the seed of the exact repair."""
    return repair_locally(
        rotation(index.room_count, index.rounds, index.applicant_count, interviews),
        index.allowed_rooms,
        index.room_count,
        index.rounds,
    )


def max_interviews(index: ProblemIndex) -> int:
    """The largest k such that every applicant can get exactly k interviews (0 if none)."""
    for interviews in range(index.interview_ceiling(), 0, -1):
        if isinstance(
            build_incidence(index, interviews, starting_grid(index, interviews)), Incidence
        ):
            return interviews
    return 0
