"""What each clock event does to the day, as data (pure): messages, moves, statuses, prompts.

The runner carries the effects out (through the live hub and the database); tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from timetrack.plan import ClockEvent
from timetrack.state import DayState

TargetKind = Literal["scope", "room", "applicant", "staff"]


@dataclass(frozen=True)
class Notify:
    target: TargetKind
    target_id: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Route:
    """Put an applicant in a room (None: their waiting room)."""

    applicant_id: str
    room_id: str | None


@dataclass(frozen=True)
class SetStatus:
    round: int
    room_id: str
    status: str


@dataclass(frozen=True)
class Prompt:
    """Ask an interviewer to score the applicant they just saw (a reminder if not submitted)."""

    interviewer_id: str
    applicant_id: str
    round: int
    room_id: str
    reminder: bool


Effect = Notify | Route | SetStatus | Prompt


def where_now(state: DayState, round_number: int | None, applicant_id: str) -> str | None:
    """The room an applicant should be in during `round_number` (None: waiting)."""
    if applicant_id in state.no_shows or applicant_id in state.removed:
        return None
    if applicant_id in state.held:
        return state.held[applicant_id]
    if round_number is None:
        return None
    return state.applicant_room(round_number, applicant_id)


def _occupied(state: DayState, round_number: int) -> list[tuple[str, str]]:
    return [
        (room.id, who)
        for room in state.rooms
        if (who := state.in_room(round_number, room.id)) is not None and who not in state.no_shows
    ]


def _routes(state: DayState, round_number: int | None) -> list[Effect]:
    effects: list[Effect] = []
    for applicant in state.applicants():
        if applicant in state.held or applicant in state.no_shows:
            continue
        effects.append(Route(applicant, where_now(state, round_number, applicant)))
    return effects


def tracks_presence(state: DayState) -> bool:
    """Whether who is connected is known: only in the platform's own rooms (an external
    meeting's attendance is not)."""
    return state.mode == "native"


def reviews_apart(state: DayState) -> bool:
    """Whether applicants spend the review in their waiting room (the interviewer scores alone).
    In manual mode the interviewer decides when the applicant leaves; an external meeting is
    outside our reach."""
    return state.mode == "native" and not state.manual


def absent(state: DayState, round_number: int, applicant_id: str) -> bool:
    """An applicant is absent from a round's interview when they were not connected at any
    moment of its interview phase (the runner records who was: `DayState.attended`)."""
    return tracks_presence(state) and (round_number, applicant_id) not in state.attended


def next_interview(
    state: DayState, applicant_id: str, after_round: int
) -> tuple[int, str, float] | None:
    """The applicant's next interview after `after_round`: (round, room id, its start)."""
    rounds = sorted(
        r for (r, _), who in state.slots.items() if who == applicant_id and r > after_round
    )
    for number in rounds:
        room_id = state.applicant_room(number, applicant_id)
        start = next(
            (p.start for p in state.plan.phases if p.kind == "interview" and p.round == number),
            None,
        )
        if room_id is not None and start is not None:
            return number, room_id, start
    return None


def _review_notice(state: DayState, event: ClockEvent, applicant_id: str) -> Notify:
    """What the applicant waits for during the review: where they go next and when."""
    r = event.round
    assert r is not None
    until = next(
        (p.end for p in state.plan.phases if p.kind == "review" and p.round == r), event.at
    )
    upcoming = next_interview(state, applicant_id, r)
    following: dict[str, Any] | None = None
    if upcoming is not None:
        number, room_id, start = upcoming
        room = state.room(room_id)
        following = {
            "round": number,
            "room_id": room_id,
            "room_name": room.name,
            "external_url": room.external_url,
            "at": start,
        }
    return Notify(
        "applicant",
        applicant_id,
        {"type": "review", "round": r, "until": until, "next": following},
    )


def reminders_for(state: DayState, round_number: int) -> list[Effect]:
    """Reminders to score a round's applicants; none for an interview that did not happen."""
    return [
        Prompt(i, who, round_number, room_id, reminder=True)
        for room_id, who in _occupied(state, round_number)
        if state.status(round_number, room_id) != "no_show"
        for i in state.room(room_id).interviewer_ids
    ]


def _interview_end(state: DayState, event: ClockEvent) -> list[Effect]:
    r = event.round
    assert r is not None
    effects: list[Effect] = []
    for room_id, who in _occupied(state, r):
        effects.append(
            Notify("room", room_id, {"type": "time_up", "round": r, "applicant_id": who})
        )
        if state.manual:
            effects += [
                Prompt(i, who, r, room_id, reminder=False)
                for i in state.room(room_id).interviewer_ids
            ]
            continue
        if absent(state, r, who):
            # Nobody to score: the interview did not happen.
            effects.append(SetStatus(r, room_id, "no_show"))
            continue
        effects.append(SetStatus(r, room_id, "completed"))
        effects += [
            Prompt(i, who, r, room_id, reminder=False) for i in state.room(room_id).interviewer_ids
        ]
    for applicant in state.applicants():
        if applicant in state.no_shows or applicant in state.removed:
            continue
        here = state.applicant_room(r, applicant) is not None
        if not here and next_interview(state, applicant, r) is None:
            continue
        if here and reviews_apart(state) and applicant not in state.held:
            effects.append(Route(applicant, None))
        effects.append(_review_notice(state, event, applicant))
    return effects


def effects_for(state: DayState, event: ClockEvent) -> list[Effect]:
    r = event.round
    if event.kind == "move" and r is not None:
        # The announcement goes first: every screen learns of the round before the moves.
        # In manual mode the interviewer lets the applicant in (`ready`); until then they wait.
        start = Notify("scope", None, {"type": "round_start", "round": r, "at": event.at})
        return [start, *_routes(state, None if state.manual else r)]
    if event.kind == "knock" and r is not None:
        seconds = state.plan.timing.knock_seconds
        return [
            Notify(
                "room",
                room_id,
                {"type": "knock", "round": r, "seconds_left": seconds, "applicant_id": who},
            )
            for room_id, who in _occupied(state, r)
        ]
    if event.kind == "interview_end" and r is not None:
        return _interview_end(state, event)
    if event.kind == "move_notice" and r is not None:
        if any(p.kind == "break" and p.round == r for p in state.plan.phases):
            return []  # nobody moves when the review ends: the break comes first
        notices: list[Effect] = []
        for applicant in state.applicants():
            if applicant in state.no_shows or applicant in state.held:
                continue
            target = state.applicant_room(r + 1, applicant)
            current = state.applicant_room(r, applicant)
            if target is None or (target == current and not reviews_apart(state)):
                continue
            room = state.room(target)
            notices.append(
                Notify(
                    "applicant",
                    applicant,
                    {
                        "type": "moving",
                        "round": r + 1,
                        "room_id": room.id,
                        "room_name": room.name,
                        "in_seconds": state.plan.timing.move_notice_seconds,
                        "at": event.at + state.plan.timing.move_notice_seconds,
                        "external_url": room.external_url,
                    },
                )
            )
        return notices
    if event.kind == "review_end" and r is not None:
        return reminders_for(state, r)
    if event.kind == "break_start":
        return [*_routes(state, None), Notify("scope", None, {"type": "break", "after_round": r})]
    if event.kind in ("welcome_start", "closing_start"):
        return [
            *_routes(state, None),
            Notify("scope", None, {"type": event.kind.removesuffix("_start")}),
        ]
    if event.kind == "day_end":
        return [*_routes(state, None), Notify("scope", None, {"type": "day_end"})]
    return []
