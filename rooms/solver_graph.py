"""Index-level algorithms of the itinerary solver: rooms, applicants and rounds are 0-based ints.

The solver splits the problem in two, which is what makes it exact:

1. *Incidence*: which rooms each applicant visits, ignoring time. This is a bipartite
   b-matching (applicant degree exactly k, room degree at most `rounds`, excluded pairs absent),
   so augmenting paths decide feasibility exactly and path moves balance room loads optimally.
2. *Rounds*: give every (applicant, room) pair a round so nobody is in two places at once. That
   is a proper edge colouring of a bipartite graph whose degrees are at most `rounds`, which
   always exists (König's theorem) and is found with alternating-path (Kempe chain) swaps.

Both steps start from the default rotation and only touch what an exclusion breaks, so a repaired
itinerary stays close to the cyclic shift.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias

# BFS parent pointers: room reached -> (room the applicant leaves, applicant). A room of JOINS
# means the applicant joins without leaving anything (the start of an augmenting path).
Parents: TypeAlias = dict[int, tuple[int, int]]
JOINS = -1


def nominal_interviews(room_count: int, rounds: int, applicant_count: int) -> int:
    """Interviews per applicant when nothing is excluded: one room per round, no room twice,
    and everyone the same number within the room-round capacity."""
    if applicant_count == 0:
        return 0
    return min(rounds, room_count, room_count * rounds // applicant_count)


def rotation(
    room_count: int, rounds: int, applicant_count: int, interviews: int
) -> list[tuple[int, int, int]]:
    """The default rotation as (round, room, applicant) triples, each applicant `interviews`
    times. Requires interviews <= min(rounds, room_count) and fits the room-round capacity.

    Waves: applicants are cut into groups of `room_count`; wave w rotates in rounds
    w*k .. w*k+k-1 with the MMI cyclic shift (interviewers stay, applicant in lane l starts in
    room l and moves one room on each round). A wave with fewer applicants than rooms spreads its
    starting rooms evenly (floor(l * rooms / size)) so every room gets the same load within one.
    When the waves do not fit in the rounds, the applicants are laid end to end along the
    rotation's diagonals instead (see `_diagonal_rotation`).
    """
    if interviews == 0 or applicant_count == 0:
        return []
    waves = -(-applicant_count // room_count)
    if waves * interviews > rounds:
        return _diagonal_rotation(room_count, rounds, applicant_count, interviews)
    triples: list[tuple[int, int, int]] = []
    for wave in range(waves):
        first = wave * room_count
        size = min(room_count, applicant_count - first)
        for lane in range(size):
            start_room = lane * room_count // size
            for step in range(interviews):
                round_index = wave * interviews + step
                triples.append((round_index, (start_room + step) % room_count, first + lane))
    return triples


def _diagonal_rotation(
    room_count: int, rounds: int, applicant_count: int, interviews: int
) -> list[tuple[int, int, int]]:
    """Consecutive interviews g = applicant * k + j laid along the diagonals of the room-round
    grid. With rounds <= rooms, diagonal d holds cells (t, d + t); otherwise the grid is walked
    room-major. Either way each cell is used once and an applicant's k <= min(rooms, rounds)
    consecutive cells have distinct rooms and rounds. Loads may be off by more than one; the
    balancing step evens them out."""
    triples: list[tuple[int, int, int]] = []
    for position in range(applicant_count * interviews):
        applicant = position // interviews
        if rounds <= room_count:
            round_index = position % rounds
            room = (position // rounds + round_index) % room_count
        else:
            room = position % room_count
            round_index = (position // room_count + room) % rounds
        triples.append((round_index, room, applicant))
    return triples


def repair_locally(
    triples: Sequence[tuple[int, int, int]],
    allowed_rooms: Sequence[Sequence[int]],
    room_count: int,
    rounds: int,
) -> list[tuple[int, int, int]]:
    """The rotation with each excluded slot fixed inside its own round where that is cheap:
    swap rooms with another applicant of the round (loads unchanged, two slots touched), else
    move to an empty room that is lighter. Slots that cannot be fixed so are dropped; the exact
    repair (augmenting paths, then alternating-path colouring) fills them in afterwards."""
    allowed = [frozenset(rooms) for rooms in allowed_rooms]
    occupant = [[-1] * room_count for _ in range(rounds)]
    rooms_of: list[set[int]] = [set() for _ in allowed_rooms]
    loads = [0] * room_count
    for round_index, room, applicant in triples:
        occupant[round_index][room] = applicant
        rooms_of[applicant].add(room)
        loads[room] += 1

    def fits(applicant: int, room: int) -> bool:
        return room in allowed[applicant] and room not in rooms_of[applicant]

    def place(round_index: int, room: int, applicant: int, leaving: int) -> None:
        rooms_of[applicant].discard(leaving)
        rooms_of[applicant].add(room)
        occupant[round_index][room] = applicant

    for round_index, room, applicant in sorted(triples):
        if room in allowed[applicant] or occupant[round_index][room] != applicant:
            continue  # fine as it is, or an earlier swap already moved this applicant away
        # Nearest rooms first: the result stays closest to the rotation's order.
        others = sorted(
            (other for other in range(room_count) if other != room),
            key=lambda other: ((other - room) % room_count, other),
        )
        partner = next(
            (
                other
                for other in others
                if occupant[round_index][other] >= 0
                and fits(applicant, other)
                and fits(occupant[round_index][other], room)
            ),
            None,
        )
        if partner is not None:
            swapped = occupant[round_index][partner]
            place(round_index, partner, applicant, leaving=room)
            place(round_index, room, swapped, leaving=partner)
            continue
        rooms_of[applicant].discard(room)
        occupant[round_index][room] = -1
        loads[room] -= 1
        empty = next(
            (
                other
                for other in others
                if occupant[round_index][other] < 0
                and fits(applicant, other)
                and loads[other] <= loads[room]
            ),
            None,
        )
        if empty is not None:
            place(round_index, empty, applicant, leaving=room)
            loads[empty] += 1
    return [
        (round_index, room, applicant)
        for round_index in range(rounds)
        for room, applicant in enumerate(occupant[round_index])
        if applicant >= 0
    ]


class Incidence:
    """Which rooms each applicant visits, ignoring rounds: the mutable working state of one
    solver call (never shared)."""

    def __init__(self, allowed_rooms: Sequence[Sequence[int]], room_count: int) -> None:
        self.allowed_rooms = allowed_rooms
        self.rooms_of: list[set[int]] = [set() for _ in allowed_rooms]
        self.members: list[set[int]] = [set() for _ in range(room_count)]

    def add(self, applicant: int, room: int) -> None:
        self.rooms_of[applicant].add(room)
        self.members[room].add(applicant)

    def remove(self, applicant: int, room: int) -> None:
        self.rooms_of[applicant].discard(room)
        self.members[room].discard(applicant)

    def loads(self) -> list[int]:
        return [len(applicants) for applicants in self.members]

    def augment(self, applicant: int, capacity: int) -> frozenset[int] | None:
        """Give `applicant` one more room, moving others along a chain if the rooms it may use
        are full (room degree < `capacity`). Returns None on success, else the rooms the chain
        could reach: all full, which is the witness that no such chain exists."""
        parent: Parents = {}
        frontier: deque[int] = deque()
        for room in self.allowed_rooms[applicant]:
            if room in self.rooms_of[applicant]:
                continue
            parent[room] = (JOINS, applicant)
            if len(self.members[room]) < capacity:
                self._apply(parent, room, roots=())
                return None
            frontier.append(room)
        end = self._search(frontier, parent, lambda room: len(self.members[room]) < capacity)
        if end is None:
            return frozenset(parent)
        self._apply(parent, end, roots=())
        return None

    def balance(self) -> None:
        """Move applicants along chains from a room with load p to one with load <= p - 2 until
        no chain exists. Each move lowers the sum of squared loads, and a b-matching without such
        a chain has the most even room loads possible (max load minimal, min load maximal)."""
        while self._even_out_once():
            pass

    def unbalanced_pairs(self) -> list[tuple[int, int]]:
        """(heavy room, light room) pairs where moving applicants along a chain would take one
        interview from `heavy` to `light` and leave loads more even: the violations of
        balance. Empty when the loads are as even as the exclusions allow."""
        loads = self.loads()
        lowest = min(loads, default=0)
        pairs: list[tuple[int, int]] = []
        for heavy in sorted(range(len(loads)), key=lambda room: (-loads[room], room)):
            if loads[heavy] - lowest < 2:
                break
            end, _ = self._chain_to_lighter([heavy], loads, loads[heavy] - 2)
            if end is not None:
                pairs.append((heavy, end))
        return pairs

    def _even_out_once(self) -> bool:
        loads = self.loads()
        lowest = min(loads, default=0)
        for level in sorted(set(loads), reverse=True):
            if level - lowest < 2:
                return False
            sources = [room for room, load in enumerate(loads) if load == level]
            end, parent = self._chain_to_lighter(sources, loads, level - 2)
            if end is not None:
                self._apply(parent, end, roots=sources)
                return True
        return False

    def _chain_to_lighter(
        self, sources: list[int], loads: list[int], limit: int
    ) -> tuple[int | None, Parents]:
        parent: Parents = {room: (JOINS, JOINS) for room in sources}
        end = self._search(deque(sources), parent, lambda room: loads[room] <= limit)
        return end, parent

    def _search(
        self, frontier: deque[int], parent: Parents, is_target: Callable[[int], bool]
    ) -> int | None:
        """Breadth-first over rooms: room y leads to room z when an applicant in y may move to z
        (allowed, not already visiting z). Returns the first target room reached."""
        while frontier:
            room = frontier.popleft()
            for mover in sorted(self.members[room]):
                for next_room in self.allowed_rooms[mover]:
                    if next_room in parent or next_room in self.rooms_of[mover]:
                        continue
                    parent[next_room] = (room, mover)
                    if is_target(next_room):
                        return next_room
                    frontier.append(next_room)
        return None

    def _apply(self, parent: Parents, end: int, roots: Iterable[int]) -> None:
        # The moves of a simple chain touch distinct (applicant, room) pairs, so applying them
        # in any order gives the same result.
        root_rooms = set(roots)
        room = end
        while room not in root_rooms:
            previous, mover = parent[room]
            if previous != JOINS:
                self.remove(mover, previous)
            self.add(mover, room)
            if previous == JOINS:
                return
            room = previous


def color_rounds(
    incidence: Incidence, rounds: int, seed: Iterable[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """Give every (applicant, room) pair of `incidence` a round, keeping the rounds of `seed`
    triples that are still in it. Needs every degree <= `rounds` (then it cannot fail).

    A pair whose applicant and room have no common free round gets one by swapping two rounds
    alpha/beta along the alternating path that starts at the room; only that path moves."""
    applicant_count, room_count = len(incidence.rooms_of), len(incidence.members)
    occupant = [[-1] * room_count for _ in range(rounds)]  # [round][room] -> applicant
    place = [[-1] * applicant_count for _ in range(rounds)]  # [round][applicant] -> room

    def put(round_index: int, room: int, applicant: int) -> None:
        occupant[round_index][room] = applicant
        place[round_index][applicant] = room

    for round_index, room, applicant in seed:
        if (
            room in incidence.rooms_of[applicant]
            and occupant[round_index][room] < 0
            and place[round_index][applicant] < 0
            and room not in _rooms_placed(place, applicant)
        ):
            put(round_index, room, applicant)

    for applicant in range(applicant_count):
        placed = _rooms_placed(place, applicant)
        for room in sorted(incidence.rooms_of[applicant] - placed):
            common = next(
                (r for r in range(rounds) if place[r][applicant] < 0 and occupant[r][room] < 0),
                None,
            )
            if common is None:
                alpha, beta, path = _shortest_alternating_path(
                    occupant, place, applicant, room, rounds
                )
                for round_index, path_room, path_applicant in path:
                    occupant[round_index][path_room] = -1
                    place[round_index][path_applicant] = -1
                for round_index, path_room, path_applicant in path:
                    put(beta if round_index == alpha else alpha, path_room, path_applicant)
                common = alpha
            put(common, room, applicant)
    return [
        (round_index, room, applicant)
        for round_index in range(rounds)
        for room, applicant in enumerate(occupant[round_index])
        if applicant >= 0
    ]


def _rooms_placed(place: list[list[int]], applicant: int) -> set[int]:
    return {by_round[applicant] for by_round in place if by_round[applicant] >= 0}


def _shortest_alternating_path(
    occupant: list[list[int]], place: list[list[int]], applicant: int, room: int, rounds: int
) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(alpha, beta, path) for the round pair whose swap moves the fewest interviews: alpha is
    free for the applicant, beta for the room."""
    free_for_applicant = [r for r in range(rounds) if place[r][applicant] < 0]
    free_for_room = [r for r in range(rounds) if occupant[r][room] < 0]
    candidates = (
        (alpha, beta, _alternating_path(occupant, place, room, alpha, beta))
        for alpha in free_for_applicant
        for beta in free_for_room
    )
    return min(candidates, key=lambda candidate: len(candidate[2]))


def _alternating_path(
    occupant: list[list[int]], place: list[list[int]], start_room: int, alpha: int, beta: int
) -> list[tuple[int, int, int]]:
    """The path from `start_room` along its alpha interview, then that applicant's beta
    interview, and so on. It never reaches the applicant being placed (free in alpha) nor comes
    back to `start_room` (free in beta), so it ends."""
    path: list[tuple[int, int, int]] = []
    room = start_room
    while True:
        applicant = occupant[alpha][room]
        if applicant < 0:
            return path
        path.append((alpha, room, applicant))
        room = place[beta][applicant]
        if room < 0:
            return path
        path.append((beta, room, applicant))
