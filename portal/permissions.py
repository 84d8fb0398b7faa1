"""Who may do what: the one place permission rules live.

Handlers name an action; `require` checks it against the actor's active role. An applicant
has no role here at all: applicants reach only their own pages, which check identity instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import Forbidden

ActorKind = Literal["staff", "applicant"]

_MANAGE = frozenset({"director", "coordinator"})
_ANY_STAFF = frozenset({"director", "coordinator", "interviewer"})
_DIRECTOR = frozenset({"director"})

ACTIONS: dict[str, frozenset[str]] = {
    "dashboard.view": _ANY_STAFF,
    "program.settings": _DIRECTOR,
    "staff.read": _MANAGE,
    "staff.manage": _MANAGE,
    "staff.set_director": _DIRECTOR,
    "applicants.read": _MANAGE,
    "applicants.write": _MANAGE,
    "applicants.pdf_full": _DIRECTOR | {"coordinator"},
    "applicants.pdf_limited": _ANY_STAFF,
    "bookings.write": _MANAGE,
    "sessions.read": _ANY_STAFF,
    "sessions.write": _MANAGE,
    "itinerary.write": _MANAGE,
    "conflicts.read": _MANAGE,
    "conflicts.write": _MANAGE,
    "forms.read": _ANY_STAFF,
    "forms.write": _MANAGE,
    "scores.own": _ANY_STAFF,
    "scores.read_all": _MANAGE,
    "scores.adjust": _MANAGE,
    "scores.lock": _MANAGE,
    "ranks.read": _MANAGE,
    "ranks.write": _DIRECTOR | {"coordinator"},
    "reports.read": _MANAGE,
    "invitations.send": _MANAGE,
    "timetrack.console": _MANAGE,
    "timetrack.room": _ANY_STAFF,
    "audit.read": _DIRECTOR,
}

# Directors and coordinators can act as interviewers; nobody can raise their own role.
SWITCHABLE_ROLES: dict[str, tuple[str, ...]] = {
    "director": ("director", "interviewer"),
    "coordinator": ("coordinator", "interviewer"),
    "interviewer": ("interviewer",),
}


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    program_id: str
    name: str
    base_role: str | None = None
    role: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


def allowed(actor: Actor, action: str) -> bool:
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    return actor.kind == "staff" and actor.role in ACTIONS[action]


def require(actor: Actor, action: str) -> None:
    if not allowed(actor, action):
        raise Forbidden("You do not have permission to do this.", code="forbidden")


def can_switch(base_role: str, to_role: str) -> bool:
    return to_role in SWITCHABLE_ROLES.get(base_role, ())


def role_matrix() -> list[tuple[str, dict[str, bool]]]:
    """For the Staff page's "who can do what" table."""
    roles = ("director", "coordinator", "interviewer")
    return [(action, {r: r in ACTIONS[action] for r in roles}) for action in sorted(ACTIONS)]
