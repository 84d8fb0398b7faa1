"""Coordinator commands as pure transforms of the day: (state, command, now) -> (state, effects).

Every command names who sent it and carries an id (the runner makes repeats harmless); here
each one only decides what changes. Bad commands raise `CommandRejected` with a code and a
message for the console.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rooms import solver
from rooms.solver_edits import swap_in_round
from timetrack import plan as plans
from timetrack.effects import Effect, Notify, Prompt, Route, SetStatus, reviews_apart, where_now
from timetrack.state import DayState

COMMANDS = (
    "pause",
    "resume",
    "extend",
    "skip",
    "end",
    "hold",
    "release",
    "no_show",
    "late_arrival",
    "swap",
    "remove",
    "put_back",
    "set_status",
    "broadcast",
    "chat",
)
STATUSES = ("pending", "ready", "in_progress", "completed", "no_show")


class CommandRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Command:
    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    actor_id: str | None = None
    actor_name: str = "Coordinator"


def current_round(state: DayState, now: float) -> int | None:
    phase = plans.phase_at(state.plan, now).phase
    if phase.kind in ("interview", "review"):
        return phase.round
    return None


def room_now(state: DayState, now: float, applicant_id: str) -> str | None:
    """The room an applicant belongs in at `now` (None: their waiting room). During a review
    they wait outside while the interviewer scores, unless held in the room."""
    phase = plans.phase_at(state.plan, now).phase
    if phase.kind == "review" and reviews_apart(state) and applicant_id not in state.held:
        return None
    return where_now(state, current_round(state, now), applicant_id)


def _applicant(state: DayState, args: dict[str, Any]) -> str:
    applicant = args.get("applicant_id")
    if not isinstance(applicant, str) or applicant not in state.applicants():
        raise CommandRejected("unknown_applicant", "That applicant is not on today's itinerary.")
    return applicant


def _plan(function: Any, *args: Any) -> plans.DayPlan:
    try:
        result: plans.DayPlan = function(*args)
    except ValueError as exc:
        raise CommandRejected("not_now", str(exc).capitalize() + ".") from None
    return result


def apply(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    kind = command.kind
    if kind not in COMMANDS:
        raise CommandRejected("unknown_command", f"There is no command {kind!r}.")
    if state.ended and kind not in ("broadcast", "chat"):
        raise CommandRejected("day_over", "The day is over.")
    handler = _HANDLERS[kind]
    return handler(state, command, now)


def _pause(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    state = replace(state, plan=_plan(plans.pause, state.plan, now))
    return state, [Notify("scope", None, {"type": "paused", "by": command.actor_name})]


def _resume(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    state = replace(state, plan=_plan(plans.resume, state.plan, now))
    return state, [Notify("scope", None, {"type": "resumed"})]


def _extend(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    minutes = command.args.get("minutes")
    if not isinstance(minutes, int | float) or not 0 < minutes <= 120:
        raise CommandRejected("invalid", "Extend by 1 to 120 minutes.")
    state = replace(state, plan=_plan(plans.extend, state.plan, now, float(minutes) * 60))
    return state, [Notify("scope", None, {"type": "extended", "minutes": minutes})]


def _skip(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    return replace(state, plan=_plan(plans.skip, state.plan, now)), []


def _end(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    return replace(state, plan=_plan(plans.end_early, state.plan, now)), []


def _hold(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    applicant = _applicant(state, command.args)
    room = room_now(state, now, applicant)
    if room is None:
        raise CommandRejected("not_in_room", "Only an applicant in a room can be held there.")
    state = replace(state, held={**state.held, applicant: room})
    return state, [Notify("room", room, {"type": "hold", "applicant_id": applicant})]


def _release(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    applicant = _applicant(state, command.args)
    held = dict(state.held)
    held.pop(applicant, None)
    state = replace(state, held=held)
    return state, [Route(applicant, room_now(state, now, applicant))]


def _no_show(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    applicant = _applicant(state, command.args)
    held = {a: r for a, r in state.held.items() if a != applicant}
    state = replace(state, no_shows=state.no_shows | {applicant}, held=held)
    # Their interviews still to come (or under way) did not happen: kept with the itinerary, so
    # scores and ranks do not count them.
    marks: list[Effect] = [
        SetStatus(r, room, "no_show")
        for (r, room), who in sorted(state.slots.items())
        if who == applicant and state.statuses.get((r, room)) != "completed"
    ]
    return state, [
        *marks,
        Route(applicant, None),
        Notify("scope", None, {"type": "no_show", "applicant_id": applicant}),
    ]


def _late_arrival(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    """The applicant starts in the current round; rooms they missed move to rounds appended
    at the end (shared with other late arrivals where rooms are free)."""
    applicant = _applicant(state, command.args)
    arrived = current_round(state, now)
    if arrived is None:
        raise CommandRejected("not_now", "Mark a late arrival while the rounds are running.")
    phase = plans.phase_at(state.plan, now).phase
    missed_before = arrived + 1 if phase.kind == "review" else arrived
    missed = sorted(
        (r, room)
        for (r, room), who in state.slots.items()
        if who == applicant and r < missed_before
    )
    if not missed:
        state = replace(state, no_shows=state.no_shows - {applicant})
        return state, [
            *_pending_again(state, applicant),
            Route(applicant, room_now(state, now, applicant)),
        ]
    slots = {key: who for key, who in state.slots.items() if key not in set(missed)}
    rounds = state.plan.rounds
    first_extra = max(state.original_rounds, 0) + 1
    added = 0
    for _, room in missed:
        target = next(
            (
                r
                for r in range(first_extra, rounds + added + 1)
                if (r, room) not in slots
                and all(who != applicant for (rr, _), who in slots.items() if rr == r)
            ),
            None,
        )
        if target is None:
            added += 1
            target = rounds + added
        slots[(target, room)] = applicant
    plan = state.plan
    if added:
        plan = _plan(plans.append_rounds, plan, now, added)
    state = replace(state, slots=slots, plan=plan, no_shows=state.no_shows - {applicant})
    return state, [
        *_pending_again(state, applicant),
        Route(applicant, room_now(state, now, applicant)),
        Notify(
            "scope",
            None,
            {"type": "late_arrival", "applicant_id": applicant, "rounds_added": added},
        ),
    ]


def _pending_again(state: DayState, applicant: str) -> list[Effect]:
    """A late arrival's interviews marked no-show by the `no_show` command are on again."""
    return [
        SetStatus(r, room, "pending")
        for (r, room), who in sorted(state.slots.items())
        if who == applicant and state.statuses.get((r, room), "pending") in ("pending", "no_show")
    ]


def _swap(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    a = _applicant(state, command.args)
    b = _applicant(state, {"applicant_id": command.args.get("other_applicant_id")})
    round_number = command.args.get("round")
    if not isinstance(round_number, int):
        raise CommandRejected("invalid", "Choose the round to swap in.")
    if a == b:
        raise CommandRejected("invalid", "Choose two different applicants.")
    started = current_round(state, now)
    if started is not None and round_number < started:
        raise CommandRejected("past_round", "That round is over.")
    problem = solver.Problem(
        rooms=tuple(solver.RoomSpec(r.id, r.interviewer_ids) for r in state.rooms),
        rounds=state.plan.rounds,
        applicants=tuple(state.applicants()),
        exclusions=frozenset(p for p in state.exclusions if p[0] in state.applicants()),
    )
    itinerary = solver.Itinerary(
        tuple(solver.Slot(r, room, who) for (r, room), who in state.slots.items())
    )
    try:
        after, _ = swap_in_round(problem, itinerary, round_number, a, b)
    except solver.EditRejected as exc:
        raise CommandRejected(exc.code, str(exc)) from None
    changed_rounds = {s.round for s in set(after.slots) ^ set(itinerary.slots)}
    if started is not None and any(r < started for r in changed_rounds):
        raise CommandRejected("past_round", "That swap would change a round that is over.")
    state = replace(state, slots={(s.round, s.room_id): s.applicant_id for s in after.slots})
    effects: list[Effect] = [Notify("scope", None, {"type": "itinerary_changed"})]
    if started in changed_rounds:
        effects += [Route(x, room_now(state, now, x)) for x in (a, b)]
    return state, effects


def _remove(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    applicant = _applicant(state, command.args)
    state = replace(state, removed=state.removed | {applicant})
    return state, [Route(applicant, None)]


def _put_back(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    applicant = _applicant(state, command.args)
    state = replace(state, removed=state.removed - {applicant})
    return state, [Route(applicant, room_now(state, now, applicant))]


def _set_status(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    args = command.args
    round_number, room_id, status = args.get("round"), args.get("room_id"), args.get("status")
    if status not in STATUSES:
        raise CommandRejected("invalid", f"Status must be one of {', '.join(STATUSES)}.")
    if not isinstance(round_number, int) or not isinstance(room_id, str):
        raise CommandRejected("invalid", "Give the round and the room.")
    applicant = state.in_room(round_number, room_id)
    if applicant is None:
        raise CommandRejected("empty_slot", "Nobody is scheduled in that room in that round.")
    statuses = {**state.statuses, (round_number, room_id): str(status)}
    state = replace(state, statuses=statuses)
    payload = {
        "type": "status",
        "round": round_number,
        "room_id": room_id,
        "status": status,
        "applicant_id": applicant,
    }
    effects: list[Effect] = [
        SetStatus(round_number, room_id, str(status)),
        Notify("room", room_id, payload),
        Notify("applicant", applicant, payload),
    ]
    if state.manual and status == "ready":
        effects.append(Route(applicant, room_id))
    if state.manual and status == "completed":
        effects.append(Route(applicant, None))
        effects += [
            Prompt(i, applicant, round_number, room_id, reminder=False)
            for i in state.room(room_id).interviewer_ids
        ]
    if status == "no_show":
        state = replace(state, no_shows=state.no_shows | {applicant})
    return state, effects


def _broadcast(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    message = str(command.args.get("message", "")).strip()
    if not message or len(message) > 1000:
        raise CommandRejected("invalid", "Write a message of up to 1,000 characters.")
    target = command.args.get("target", "all")
    payload = {"type": "broadcast", "message": message, "from": command.actor_name}
    if target == "all":
        return state, [Notify("scope", None, payload)]
    if target == "room":
        room_id = command.args.get("room_id")
        if not any(r.id == room_id for r in state.rooms):
            raise CommandRejected("unknown_room", "That room is not in this session.")
        return state, [Notify("room", str(room_id), payload)]
    if target == "applicant":
        return state, [Notify("applicant", _applicant(state, command.args), payload)]
    if target == "staff":
        staff_id = command.args.get("staff_id")
        if not isinstance(staff_id, str) or not staff_id:
            raise CommandRejected("invalid", "Choose the staff member.")
        return state, [Notify("staff", staff_id, payload)]
    raise CommandRejected("invalid", "Target is all, room, applicant or staff.")


def _chat(state: DayState, command: Command, now: float) -> tuple[DayState, list[Effect]]:
    state, effects = _broadcast(state, command, now)
    return state, [
        Notify(e.target, e.target_id, {**e.payload, "type": "chat"})
        for e in effects
        if isinstance(e, Notify)
    ]


_HANDLERS = {
    "pause": _pause,
    "resume": _resume,
    "extend": _extend,
    "skip": _skip,
    "end": _end,
    "hold": _hold,
    "release": _release,
    "no_show": _no_show,
    "late_arrival": _late_arrival,
    "swap": _swap,
    "remove": _remove,
    "put_back": _put_back,
    "set_status": _set_status,
    "broadcast": _broadcast,
    "chat": _chat,
}
