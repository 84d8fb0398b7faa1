"""Data types of the itinerary solver. The whole API is documented in `rooms.solver`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import Conflict

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """An interviewer room: its interviewers stay there for the whole session."""

    id: str
    interviewer_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything the solver needs. Ids are strings, rounds are numbered 1..`rounds`.

    `exclusions` holds (applicant_id, interviewer_id) pairs that must never meet.
    `breaks_after` lists rounds followed by a break; breaks change when rounds happen, not who
    meets whom, so the solver only checks them. `interviews_per_applicant` is `None` for "as many
    as possible"; a number demands exactly that many for everyone (or an explanation why not).
    """

    rooms: tuple[RoomSpec, ...]
    rounds: int
    applicants: tuple[str, ...]
    exclusions: frozenset[tuple[str, str]] = frozenset()
    breaks_after: tuple[int, ...] = ()
    interviews_per_applicant: int | None = None


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One interview: `applicant_id` is in room `room_id` during `round` (1-based)."""

    round: int
    room_id: str
    applicant_id: str


@dataclass(frozen=True, slots=True)
class Itinerary:
    """Who is in which room in which round. Slots are kept sorted so equal itineraries compare
    equal whatever order they were built in."""

    slots: tuple[Slot, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "slots", tuple(sorted(self.slots)))

    def by_room(self) -> dict[str, tuple[Slot, ...]]:
        """Each room's interviews in round order (rooms without interviews are absent)."""
        return _group(self.slots, lambda slot: slot.room_id)

    def by_applicant(self) -> dict[str, tuple[Slot, ...]]:
        """Each applicant's interviews in round order (applicants without any are absent)."""
        return _group(self.slots, lambda slot: slot.applicant_id)

    def by_round(self) -> dict[int, tuple[Slot, ...]]:
        """Each round's interviews (rounds without interviews are absent)."""
        return _group(self.slots, lambda slot: slot.round)

    def at(self, round: int, room_id: str) -> str | None:
        """The applicant in `room_id` during `round`, or None when the room is empty."""
        for slot in self.slots:
            if slot.round == round and slot.room_id == room_id:
                return slot.applicant_id
        return None

    def slot_of(self, round: int, applicant_id: str) -> Slot | None:
        """Where `applicant_id` is during `round`, or None when they rest in that round."""
        for slot in self.slots:
            if slot.round == round and slot.applicant_id == applicant_id:
                return slot
        return None


def _group(slots: tuple[Slot, ...], key_of: Callable[[Slot], K]) -> dict[K, tuple[Slot, ...]]:
    groups: defaultdict[K, list[Slot]] = defaultdict(list)
    for slot in slots:
        groups[key_of(slot)].append(slot)
    return {key: tuple(group) for key, group in groups.items()}


@dataclass(frozen=True, slots=True)
class Infeasibility:
    """Why no itinerary exists (or, as `Solution.shortfall`, why applicants get fewer
    interviews than the rounds and rooms would allow). `code` names the constraint."""

    code: str
    message: str
    applicant_ids: tuple[str, ...] = ()
    room_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Solution:
    """The result of `solve`: an itinerary, or an explanation, never both.

    `interviews_per_applicant` is the k every applicant gets. `shortfall` is set when k is
    below the nominal `min(rounds, rooms, rooms * rounds // applicants)` and says which
    constraint (always a conflict of interest) lowered it.
    """

    itinerary: Itinerary | None
    explanation: Infeasibility | None = None
    interviews_per_applicant: int = 0
    shortfall: Infeasibility | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint. `code` names the constraint; the other fields locate it."""

    code: str
    message: str
    round: int | None = None
    room_id: str | None = None
    applicant_id: str | None = None
    interviewer_id: str | None = None

    def key(self) -> tuple[str, int, str, str, str]:
        """Identity of the violation without its wording (used to spot new violations)."""
        return (
            self.code,
            self.round or 0,
            self.room_id or "",
            self.applicant_id or "",
            self.interviewer_id or "",
        )


class EditRejected(Conflict):
    """A `move` or `swap` that would break a constraint. `violations` lists what it breaks;
    the HTTP layer maps it to 409 with the first violation's code."""

    def __init__(self, edit: str, violations: tuple[Violation, ...]) -> None:
        details = "; ".join(f"{violation.code}: {violation.message}" for violation in violations)
        code = violations[0].code if violations else "edit_rejected"
        super().__init__(f"{edit} rejected: {details}", code=code)
        self.edit = edit
        self.violations = violations
