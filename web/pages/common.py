"""What every page handler needs: who is asking, a database session, a redirect to log in."""

from __future__ import annotations

from aiohttp import web

from portal.permissions import SWITCHABLE_ROLES, allowed, require
from web.session import Identity, current

MENU: tuple[tuple[str, str, str], ...] = (
    ("Dashboard", "/dashboard", "dashboard.view"),
    ("Sessions", "/sessions", "sessions.read"),
    ("Scoring Forms", "/forms", "forms.read"),
    ("Applicants", "/applicants", "applicants.read"),
    ("Invitations", "/invitations", "invitations.send"),
    ("Scores & Ranks", "/ranks", "ranks.read"),
    ("Meeting Rooms", "/meeting-rooms", "sessions.read"),
    ("Conflicts", "/conflicts", "conflicts.read"),
    ("Staff", "/staff", "staff.read"),
    ("Reports", "/reports", "reports.read"),
    ("My scores", "/scoring", "scores.own"),
)


def staff_identity(request: web.Request, action: str = "dashboard.view") -> Identity:
    identity = current(request)
    if identity is None or not identity.actor.is_staff:
        raise web.HTTPSeeOther(f"/login?next={request.path_qs}")
    require(identity.actor, action)
    return identity


def applicant_identity(request: web.Request) -> Identity:
    identity = current(request)
    if identity is None or identity.actor.kind != "applicant":
        raise web.HTTPSeeOther("/a/request-link")
    return identity


def menu_for(identity: Identity) -> list[tuple[str, str]]:
    return [(label, href) for label, href, action in MENU if allowed(identity.actor, action)]


def shell_context(identity: Identity) -> dict[str, object]:
    return {
        "menu": menu_for(identity),
        "roles": SWITCHABLE_ROLES.get(identity.actor.base_role or "", ()),
    }
