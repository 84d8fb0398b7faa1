"""The applicant's pages (reached by magic link, no password): Interviews and Invitations,
and on Interviews the meeting rooms open to them (see `web.meeting_links`).

Every form posts to `/applicant/act` with an `action`; success redirects back to the tab with
a notice (Post/Redirect/Get), a refusal renders the tab again with the reason as an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from core.errors import AppError, ValidationFailed
from core.scoping import ProgramScope
from portal import invitations
from portal.models import Applicant, Program
from rooms.models import InterviewSession
from web import meeting_links
from web.api import scheduling as actions
from web.api.applicant_view import ApplicantView, applicant_view, clock_time, zone_of
from web.booking_rules import now_of
from web.jobs import wake
from web.keys import DB
from web.pages.common import applicant_identity
from web.render import render
from web.session import Identity

TABS = {"interviews": "/applicant", "invitations": "/applicant/invitations"}
NOTICES = {
    "booked": "You are booked. A confirmation email with a calendar file is on its way.",
    "choices": "Your choices are saved. The coordinator will assign your session.",
    "cancelled": "Your seat is cancelled.",
    "left": "You left the waitlist.",
    "rescheduled": "Your interview is moved. A new confirmation is on its way.",
    "waitlisted": "You are on the waitlist. We will email you when a seat opens.",
    "claimed": "The seat is yours. A confirmation email is on its way.",
    "offer-declined": "You declined the seat and left that waitlist.",
    "ranked": "Your ranking is saved. Seats are assigned when the preference window closes.",
    "accepted": "Thank you for accepting. Choose your session below.",
    "declined": "You declined the invitation. The program has been told.",
}


@dataclass(frozen=True)
class MeetingRow:
    """A meeting room as the applicant's page shows it: when, in the zone of its session (or
    the program's) and in theirs, and whether it is open now."""

    name: str
    path: str
    starts_at: datetime
    program_time: str
    applicant_time: str | None
    open_now: bool


async def _meetings(scope: ProgramScope, view: ApplicantView, now: datetime) -> list[MeetingRow]:
    applicant = await scope.get(Applicant, view.applicant_id, what="applicant")
    links = await meeting_links.for_applicant(scope, applicant, now)
    program = await scope.db.get(Program, scope.program_id)
    program_zone = zone_of(program.timezone if program else None) or zone_of("UTC")
    own_zone = zone_of(view.applicant_timezone)
    session_zones = {
        s.id: s.timezone
        for s in await scope.all(
            InterviewSession, InterviewSession.id.in_([m.session_id for m in links if m.session_id])
        )
    }
    rows = []
    for link in links:
        zone = zone_of(session_zones.get(link.session_id or "")) or program_zone
        assert zone is not None
        end = link.ends_at.astimezone(zone)
        own_end = link.ends_at.astimezone(own_zone) if own_zone else None
        rows.append(
            MeetingRow(
                name=link.name,
                path=link.path,
                starts_at=link.starts_at,
                program_time=f"{clock_time(link.starts_at, zone)} to {end:%H:%M}",
                applicant_time=(
                    f"{clock_time(link.starts_at, own_zone)} to {own_end:%H:%M}"
                    if own_zone and own_end
                    else None
                ),
                open_now=link.starts_at <= now < link.ends_at,
            )
        )
    return rows


async def _page(
    request: web.Request,
    identity: Identity,
    tab: str,
    *,
    error: AppError | None = None,
    status: int = 200,
) -> web.Response:
    now = now_of(request.app)
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        view = await applicant_view(scope, identity.actor.id, now)
        meetings = await _meetings(scope, view, now) if tab == "interviews" else []
    context: dict[str, Any] = {
        "view": view,
        "meetings": meetings,
        "tab": tab,
        "tabs": TABS,
        "title": "Your interviews" if tab == "interviews" else "Your invitations",
        "notice": NOTICES.get(request.query.get("notice", "")),
        "error": error,
    }
    return render(request, f"applicant/{tab}.html", context, status=status)


async def interviews_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, applicant_identity(request), "interviews")


async def invitations_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, applicant_identity(request), "invitations")


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("Something was missing from the form; reload and try again.")
    return value.strip()


async def act(request: web.Request) -> web.StreamResponse:
    identity = applicant_identity(request)
    form = await request.post()
    action = str(form.get("action", ""))
    tab = "invitations" if form.get("tab") == "invitations" else "interviews"
    actor = identity.actor
    now = now_of(request.app)
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, actor.program_id)
            if action == "choose":
                ids = [_field(form, "first")]
                second = str(form.get("second", "")).strip()
                if second:
                    ids.append(second)
                outcome = await actions.choose(scope, actor, ids, now)
                notice = "booked" if outcome.booking else "choices"
                tab = "interviews" if outcome.booking else tab
            elif action == "cancel":
                gone = await actions.cancel(scope, actor, _field(form, "booking_id"), now)
                notice = "cancelled" if gone.status == "scheduled" else "left"
            elif action == "reschedule":
                await actions.reschedule(
                    scope, actor, _field(form, "booking_id"), _field(form, "session_id"), now
                )
                notice = "rescheduled"
            elif action == "waitlist":
                await actions.join_waitlist(scope, actor, _field(form, "session_id"), now)
                notice = "waitlisted"
            elif action == "claim":
                await actions.claim_offer(scope, actor, _field(form, "offer_id"), now)
                notice, tab = "claimed", "interviews"
            elif action == "decline-offer":
                await actions.decline_offer(scope, actor, _field(form, "offer_id"), now)
                notice = "offer-declined"
            elif action == "rank":
                ranked = [str(v) for v in form.getall("session_ids", []) if str(v).strip()]
                await actions.rank(scope, actor, ranked, now)
                notice = "ranked"
            elif action in ("accept", "decline"):
                answer = "accepted" if action == "accept" else "declined"
                await invitations.respond(scope, actor, _field(form, "invitation_id"), answer, now)
                notice = answer
            else:
                raise ValidationFailed("Unknown action; reload the page and try again.")
    except AppError as exc:
        return await _page(request, identity, tab, error=exc, status=exc.status)
    wake(request.app)
    raise web.HTTPSeeOther(f"{TABS[tab]}?notice={notice}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/applicant", interviews_page)
    app.router.add_get("/applicant/invitations", invitations_page)
    app.router.add_post("/applicant/act", act)
