"""Applicant pages: the list (search, filters, bulk status and booking), CSV import, profile."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from multidict import MultiDictProxy

from core.errors import AppError, NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal import bookings, people
from portal.csv_import import CsvRejected, decode
from portal.models import APPLICANT_STATUSES, Applicant, Booking
from portal.permissions import Actor, allowed
from rooms.models import InterviewSession
from web.api.applicant_files import KINDS, pdf_from_form, remove_files, save_pdf
from web.api.bookings import all_seats, assign, move_booking
from web.keys import DB
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.session import Identity

Form = MultiDictProxy[str | bytes | web.FileField]
SORTS = ("name", "status", "created")
NOTICES = {
    "status": "Status changed.",
    "booked": "Booked into the session.",
    "moved": "Booking moved.",
    "removed": "Booking removed; the seat is free again.",
    "pdf": "PDF uploaded.",
    "deleted": "Applicant deleted.",
}


@dataclass(frozen=True)
class SessionChoice:
    session: InterviewSession
    occupancy: bookings.Occupancy


def list_query(query: Mapping[str, str]) -> people.ApplicantQuery:
    """The list's filters from the URL; unknown values fall back to "any" rather than fail."""
    status = query.get("status", "")
    sort = query.get("sort", "name")
    try:
        page = min(max(1, int(query.get("page", "1"))), people.MAX_PAGE)
    except ValueError:
        page = 1
    return people.ApplicantQuery(
        text=query.get("q", "")[:200],
        status=status if status in APPLICANT_STATUSES else None,
        session_id=query.get("session") or None,
        sort=cast(Literal["name", "status", "created"], sort if sort in SORTS else "name"),
        descending=query.get("order") == "desc",
        page=page,
    )


async def session_choices(scope: ProgramScope) -> list[SessionChoice]:
    pairs = await all_seats(scope)
    occupancies = await bookings.occupancy(scope, [seats for _, seats in pairs])
    return [SessionChoice(s, o) for (s, _), o in zip(pairs, occupancies, strict=True)]


def _permissions(identity: Identity) -> dict[str, bool]:
    actor = identity.actor
    return {
        "can_write": allowed(actor, "applicants.write"),
        "can_book": allowed(actor, "bookings.write"),
        "can_pdf_full": allowed(actor, "applicants.pdf_full"),
        "can_pdf_limited": allowed(actor, "applicants.pdf_limited"),
    }


async def _render_list(
    request: web.Request,
    identity: Identity,
    query: Mapping[str, str],
    *,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    search = list_query(query)
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        page = await people.search_applicants(scope, search)
        choices = await session_choices(scope)
        booked = await bookings.applicant_bookings(scope, [a.id for a in page.rows])
    names = {c.session.id: c.session.name for c in choices}
    sessions_of: dict[str, list[tuple[str, str]]] = {}
    for booking in booked:
        sessions_of.setdefault(booking.applicant_id, []).append(
            (names.get(booking.session_id, "?"), booking.status)
        )
    filters = {k: v for k, v in query.items() if k in ("q", "status", "session", "sort", "order")}
    context = {
        **shell_context(identity),
        **_permissions(identity),
        "title": "Applicants",
        "page": page,
        "search": search,
        "filters": filters,
        "filters_qs": urlencode(filters),
        "unsorted_qs": urlencode({k: v for k, v in filters.items() if k not in ("sort", "order")}),
        "statuses": APPLICANT_STATUSES,
        "choices": choices,
        "sessions_of": sessions_of,
        "selected": set(),
        "notice": NOTICES.get(query.get("notice", "")),
        "count": query.get("n", ""),
        "error": None,
        "problems": (),
        **extra,
    }
    return render(request, "people/applicants.html", context, status=status)


async def applicants_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "applicants.read")
    return await _render_list(request, identity, request.query)


def _back_query(form: Form) -> dict[str, str]:
    keep = ("q", "status", "session", "sort", "order", "page")
    return {k: v for k, v in parse_qsl(str(form.get("back", ""))) if k in keep}


async def bulk_action(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "applicants.read")
    form = cast(Form, await request.post())
    back = _back_query(form)
    ids = [str(i) for i in form.getall("applicant_ids", [])]
    action = str(form.get("action", ""))
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            if action == "status":
                staff_identity(request, "applicants.write")
                changed = await people.change_statuses(
                    scope, identity.actor, ids, str(form.get("status", ""))
                )
                notice = {"notice": "status", "n": str(changed)}
            elif action == "assign":
                staff_identity(request, "bookings.write")
                session_id = str(form.get("session_id", ""))
                if not session_id:
                    raise ValidationFailed("Choose a session.", field="session_id")
                made = await assign(scope, identity.actor, session_id, ids, request.app)
                notice = {"notice": "booked", "n": str(len(made))}
            else:
                raise ValidationFailed("Choose what to do with the selected applicants.")
    except AppError as exc:
        return await _render_list(
            request, identity, back, status=exc.status, error=exc, selected=set(ids)
        )
    raise web.HTTPSeeOther(f"/applicants?{urlencode({**back, **notice})}")


# Import ------------------------------------------------------------------------------------


async def import_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "applicants.write")
    result = None
    if "created" in request.query:
        try:
            result = {
                k: int(request.query.get(k, "0")) for k in ("created", "updated", "unchanged")
            }
        except ValueError:
            result = None
    return _render_import(request, identity, result=result)


def _render_import(
    request: web.Request, identity: Identity, *, status: int = 200, **extra: Any
) -> web.Response:
    context = {
        **shell_context(identity),
        "title": "Import applicants",
        "result": None,
        "error": None,
        "problems": (),
        "notice": None,
        "statuses": APPLICANT_STATUSES,
        **extra,
    }
    return render(request, "people/import.html", context, status=status)


async def import_submit(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "applicants.write")
    form = await request.post()
    upload = form.get("file")
    try:
        if not isinstance(upload, web.FileField):
            raise ValidationFailed("Choose a CSV file to import.", field="file")
        text = decode(upload.file.read())
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            result = await people.import_applicants(scope, identity.actor, text)
    except CsvRejected as exc:
        return _render_import(request, identity, status=422, error=exc, problems=exc.problems)
    except AppError as exc:
        return _render_import(request, identity, status=exc.status, error=exc)
    counts = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    raise web.HTTPSeeOther(f"/applicants/import?{urlencode(counts)}")


# Profile -----------------------------------------------------------------------------------


async def _render_profile(
    request: web.Request, identity: Identity, *, status: int = 200, **extra: Any
) -> web.Response:
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        applicant = await scope.get(Applicant, request.match_info["applicant_id"], what="applicant")
        booked = await bookings.applicant_bookings(scope, [applicant.id])
        choices = await session_choices(scope)
    by_id = {c.session.id: c for c in choices}
    context = {
        **shell_context(identity),
        **_permissions(identity),
        "title": applicant.display_name,
        "applicant": applicant,
        "bookings": [(b, by_id.get(b.session_id)) for b in booked],
        "booked_sessions": {b.session_id for b in booked},
        "choices": choices,
        "statuses": APPLICANT_STATUSES,
        "notice": NOTICES.get(request.query.get("notice", "")),
        "count": "",
        "error": None,
        "problems": (),
        **extra,
    }
    return render(request, "people/applicant.html", context, status=status)


async def profile_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, "applicants.read")
    return await _render_profile(request, identity)


@dataclass(frozen=True)
class ProfileForm:
    request: web.Request
    scope: ProgramScope
    actor: Actor
    applicant: Applicant
    form: Form

    def value(self, name: str) -> str:
        return str(self.form.get(name, ""))

    def back(self, notice: str) -> str:
        return f"/applicants/{self.applicant.id}?notice={notice}"


Work = Callable[[ProfileForm], Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def profile_action(permission: str, work: Work) -> Handler:
    """A profile form: check, do the work in one transaction, then back to the profile (or
    the page the work names); on a refusal, the profile again with the message."""

    async def handle(request: web.Request) -> web.StreamResponse:
        identity = staff_identity(request, permission)
        form = cast(Form, await request.post())
        applicant_id = request.match_info["applicant_id"]
        try:
            async with request.app[DB]() as db, db.begin():
                scope = ProgramScope(db, identity.actor.program_id)
                applicant = await scope.get(Applicant, applicant_id, what="applicant")
                target = await work(ProfileForm(request, scope, identity.actor, applicant, form))
        except AppError as exc:
            return await _render_profile(request, identity, status=exc.status, error=exc)
        raise web.HTTPSeeOther(target)

    return handle


async def _status(call: ProfileForm) -> str:
    people.set_status(call.scope, call.actor, call.applicant, call.value("status"))
    return call.back("status")


async def _pdf(call: ProfileForm) -> str:
    kind = KINDS.get(call.value("kind"))
    if kind is None:
        raise ValidationFailed("Choose which PDF this is.", field="kind")
    data = await pdf_from_form(call.form, "file")
    await save_pdf(call.request.app, call.scope, call.actor, call.applicant, kind, data)
    return call.back("pdf")


async def _delete(call: ProfileForm) -> str:
    await people.delete_applicant(call.scope, call.actor, call.applicant.id)
    await call.scope.db.flush()
    await remove_files(call.request.app, call.applicant)
    return "/applicants?notice=deleted"


def _session_id(call: ProfileForm) -> str:
    session_id = call.value("session_id")
    if not session_id:
        raise ValidationFailed("Choose a session.", field="session_id")
    return session_id


async def _book(call: ProfileForm) -> str:
    app = call.request.app
    await assign(call.scope, call.actor, _session_id(call), [call.applicant.id], app)
    return call.back("booked")


async def _own_booking(call: ProfileForm) -> Booking:
    booking = await call.scope.get(Booking, call.request.match_info["booking_id"], what="booking")
    if booking.applicant_id != call.applicant.id:
        raise NotFound("This booking is not this applicant's.", field="booking_id")
    return booking


async def _move(call: ProfileForm) -> str:
    booking = await _own_booking(call)
    await move_booking(call.scope, call.actor, booking.id, _session_id(call), call.request.app)
    return call.back("moved")


async def _remove(call: ProfileForm) -> str:
    booking = await _own_booking(call)
    await bookings.remove(call.scope, call.actor, booking.id)
    return call.back("removed")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/applicants", applicants_page)
    app.router.add_post("/applicants/bulk", bulk_action)
    app.router.add_get("/applicants/import", import_page)
    app.router.add_post("/applicants/import", import_submit)
    app.router.add_get("/applicants/{applicant_id}", profile_page)
    base = "/applicants/{applicant_id}"
    app.router.add_post(f"{base}/status", profile_action("applicants.write", _status))
    app.router.add_post(f"{base}/pdf", profile_action("applicants.write", _pdf))
    app.router.add_post(f"{base}/delete", profile_action("applicants.write", _delete))
    app.router.add_post(f"{base}/book", profile_action("bookings.write", _book))
    booking = f"{base}/bookings/{{booking_id}}"
    app.router.add_post(f"{booking}/move", profile_action("bookings.write", _move))
    app.router.add_post(f"{booking}/remove", profile_action("bookings.write", _remove))
