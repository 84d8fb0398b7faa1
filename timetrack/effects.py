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
        effects: list[Effect] = []
        for room_id, who in _occupied(state, r):
            effects.append(
                Notify("room", room_id, {"type": "time_up", "round": r, "applicant_id": who})
            )
            if not state.manual:
                effects.append(SetStatus(r, room_id, "completed"))
            effects += [
                Prompt(i, who, r, room_id, reminder=False)
                for i in state.room(room_id).interviewer_ids
            ]
        return effects
    if event.kind == "move_notice" and r is not None:
        notices: list[Effect] = []
        for applicant in state.applicants():
            if applicant in state.no_shows or applicant in state.held:
                continue
            target = state.applicant_room(r + 1, applicant)
            current = state.applicant_room(r, applicant)
            if target is None or target == current:
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
                        "external_url": room.external_url,
                    },
                )
            )
        return notices
    if event.kind == "review_end" and r is not None:
        return [
            Prompt(i, who, r, room_id, reminder=True)
            for room_id, who in _occupied(state, r)
            for i in state.room(room_id).interviewer_ids
        ]
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
