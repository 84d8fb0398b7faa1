"""The state of one interview day, pure: the plan, who is where in which round, and the
coordinator's changes to people (no-shows, holds, late arrivals, removals). JSON both ways, so a
restart resumes exactly where the day stood."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from timetrack.plan import DayPlan, Pause, Phase, RoundTiming


@dataclass(frozen=True)
class RoomInfo:
    id: str
    name: str
    interviewer_ids: tuple[str, ...]
    external_url: str | None = None


@dataclass(frozen=True)
class DayState:
    """`slots` maps (round, room id) to the applicant interviewed there."""

    session_id: str
    mode: str
    manual: bool
    rooms: tuple[RoomInfo, ...]
    names: dict[str, str]
    plan: DayPlan
    slots: dict[tuple[int, str], str]
    started: bool = False
    ended: bool = False
    no_shows: frozenset[str] = frozenset()
    held: dict[str, str] = field(default_factory=dict)
    """applicant -> room they are kept in past the boundary (overtime)."""
    removed: frozenset[str] = frozenset()
    """applicants taken out of their room by a coordinator (waiting until put back)."""
    statuses: dict[tuple[int, str], str] = field(default_factory=dict)
    """(round, room id) -> interview status when set by hand (manual mode or an override)."""
    exclusions: frozenset[tuple[str, str]] = frozenset()
    """(applicant, interviewer) pairs that must never meet (conflicts of interest)."""
    original_rounds: int = 0
    attended: frozenset[tuple[int, str]] = frozenset()
    """(round, applicant) pairs where the applicant was connected at some moment of that
    round's interview (native days only; see `effects.absent`)."""
    reminders: dict[int, float] = field(default_factory=dict)
    """round -> when its scoring reminders are due, for a round whose review was skipped (the
    reminder then comes a review's length after the prompt, not with it)."""

    def room(self, room_id: str) -> RoomInfo:
        return next(r for r in self.rooms if r.id == room_id)

    def applicant_room(self, round_number: int, applicant_id: str) -> str | None:
        for (r, room_id), who in self.slots.items():
            if r == round_number and who == applicant_id:
                return room_id
        return None

    def applicants(self) -> list[str]:
        return sorted(set(self.slots.values()), key=lambda a: self.names.get(a, a))

    def in_room(self, round_number: int, room_id: str) -> str | None:
        return self.slots.get((round_number, room_id))

    def status(self, round_number: int, room_id: str) -> str:
        applicant = self.in_room(round_number, room_id)
        if applicant is None:
            return "empty"
        if applicant in self.no_shows:
            return "no_show"
        return self.statuses.get((round_number, room_id), "pending")


# --- JSON -------------------------------------------------------------------------------------


def _num(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _float(value: float | str | None) -> float:
    return float(value) if value is not None else 0.0


def plan_to_json(plan: DayPlan) -> dict[str, Any]:
    return {
        "phases": [
            {
                **asdict(p),
                "start": _num(p.start),
                "end": _num(p.end),
                "planned_seconds": _num(p.planned_seconds),
            }
            for p in plan.phases
        ],
        "timing": asdict(plan.timing),
        "pauses": [asdict(p) for p in plan.pauses],
        "paused_at": plan.paused_at,
        "adjusted_at": plan.adjusted_at,
    }


def plan_from_json(data: dict[str, Any]) -> DayPlan:
    return DayPlan(
        phases=tuple(
            Phase(
                p["kind"],
                p["round"],
                _float(p["start"]),
                _float(p["end"]),
                _float(p["planned_seconds"]),
                p.get("warning_at"),
            )
            for p in data["phases"]
        ),
        timing=RoundTiming(**data["timing"]),
        pauses=tuple(Pause(**p) for p in data["pauses"]),
        paused_at=data.get("paused_at"),
        adjusted_at=data.get("adjusted_at"),
    )


def state_to_json(state: DayState) -> dict[str, Any]:
    return {
        "session_id": state.session_id,
        "mode": state.mode,
        "manual": state.manual,
        "rooms": [asdict(r) for r in state.rooms],
        "names": state.names,
        "plan": plan_to_json(state.plan),
        "slots": [[r, room, who] for (r, room), who in sorted(state.slots.items())],
        "started": state.started,
        "ended": state.ended,
        "no_shows": sorted(state.no_shows),
        "held": state.held,
        "removed": sorted(state.removed),
        "statuses": [[r, room, s] for (r, room), s in sorted(state.statuses.items())],
        "exclusions": sorted(list(pair) for pair in state.exclusions),
        "original_rounds": state.original_rounds,
        "attended": sorted([r, who] for r, who in state.attended),
        "reminders": [[r, at] for r, at in sorted(state.reminders.items())],
    }


def state_from_json(data: dict[str, Any]) -> DayState:
    return DayState(
        session_id=data["session_id"],
        mode=data["mode"],
        manual=data["manual"],
        rooms=tuple(
            RoomInfo(r["id"], r["name"], tuple(r["interviewer_ids"]), r.get("external_url"))
            for r in data["rooms"]
        ),
        names=dict(data["names"]),
        plan=plan_from_json(data["plan"]),
        slots={(int(r), str(room)): str(who) for r, room, who in data["slots"]},
        started=bool(data["started"]),
        ended=bool(data["ended"]),
        no_shows=frozenset(data["no_shows"]),
        held=dict(data["held"]),
        removed=frozenset(data["removed"]),
        statuses={(int(r), str(room)): str(s) for r, room, s in data["statuses"]},
        exclusions=frozenset((str(a), str(i)) for a, i in data.get("exclusions", [])),
        original_rounds=int(data.get("original_rounds", 0)),
        attended=frozenset((int(r), str(who)) for r, who in data.get("attended", [])),
        reminders={int(r): float(at) for r, at in data.get("reminders", [])},
    )


def with_slots(state: DayState, slots: dict[tuple[int, str], str]) -> DayState:
    return replace(state, slots=slots)
