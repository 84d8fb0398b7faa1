"""Staff pages for invitations: send to a selection, email templates with a live preview on a
real applicant, the outbox, and scheduling (rules, the invited applicants still waiting for a
seat with their choices and an Assign button, the allocation run, finalizing sessions)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from core.errors import AppError, ValidationFailed
from core.scoping import ProgramScope
from portal import allocation, bookings, invitations, mail, outbox
from portal.models import Applicant, Invitation, Program
from portal.models_mail import AllocationRun, OutboxMessage
from rooms.models import InterviewSession
from web.api.bookings import assign
from web.api.finalize import finalize_session
from web.api.invitations import dead_letter_count, outbox_rows, preview
from web.api.scheduling import OptionsIn, options_out, run_allocation, save_options
from web.booking_rules import now_of
from web.jobs import wake
from web.keys import DB, SETTINGS
from web.pages.common import shell_context, staff_identity
from web.render import render
from web.session import Identity

ACTION = "invitations.send"
SUBNAV = (
    ("Send", "/invitations"),
    ("Templates", "/invitations/templates"),
    ("Outbox", "/invitations/outbox"),
    ("Scheduling", "/invitations/scheduling"),
)
OUTBOX_FILTERS = (
    ("pending", "waiting or retrying"),
    ("sending", "sending"),
    ("sent", "sent"),
    ("failed", "gave up (dead letters)"),
)
NOTICES = {
    "saved": "Template saved.",
    "reset": "Back to the built-in wording.",
    "retry": "The email is queued again; it goes out in the next delivery pass.",
    "options": "Scheduling rules saved.",
    "finalized": "Session finalized: itinerary published and emailed.",
    "allocated": "Allocation run done: everyone seated is emailed a confirmation.",
    "assigned": "Seat booked; the applicant is emailed the date with a calendar file.",
}


def _base(identity: Identity, request: web.Request, title: str) -> dict[str, Any]:
    return {
        **shell_context(identity),
        "title": title,
        "subnav": SUBNAV,
        "notice": NOTICES.get(request.query.get("notice", "")),
        "error": None,
    }


async def send_page(request: web.Request, *, error: AppError | None = None) -> web.Response:
    identity = staff_identity(request, ACTION)
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        applicants = await scope.all(Applicant)
        applicants.sort(key=lambda a: (a.last_name.lower(), a.first_name.lower()))
        sent = await scope.all(Invitation)
        program = await db.get(Program, identity.actor.program_id)
    latest: dict[str, Invitation] = {}
    for row in sorted(sent, key=lambda i: i.created_at):
        latest[row.applicant_id] = row
    context = {
        **_base(identity, request, "Invitations"),
        "applicants": applicants,
        "latest": latest,
        "reasons": {a.id: invitations.refusal_reason(a.status) for a in applicants},
        "request_key": secrets.token_urlsafe(12),
        "program": program,
        "error": error,
    }
    return render(request, "invitations/index.html", context, status=error.status if error else 200)


def _release_at(raw: str, zone: str) -> datetime | None:
    if not raw.strip():
        return None
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(
            "Give the release time as a date and time.", field="release_at"
        ) from None
    return local if local.tzinfo else local.replace(tzinfo=ZoneInfo(zone))


async def send_submit(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    form = await request.post()
    ids = [str(v) for v in form.getall("applicant_ids", [])]
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            program = await db.get(Program, identity.actor.program_id)
            assert program is not None
            result = await invitations.send(
                scope,
                identity.actor,
                ids,
                request_key=str(form.get("request_key", ""))[:80],
                now=now_of(request.app),
                release_at=_release_at(str(form.get("release_at", "")), program.timezone),
                deadline_at=_release_at(str(form.get("deadline_at", "")), program.timezone),
            )
            names = {a.id: a.display_name for a in await scope.all(Applicant)}
    except AppError as exc:
        return await send_page(request, error=exc)
    wake(request.app)
    context = {**_base(identity, request, "Invitations sent"), "result": result, "names": names}
    return render(request, "invitations/sent.html", context)


async def templates_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    async with request.app[DB]() as db:
        templates = await mail.all_templates(ProgramScope(db, identity.actor.program_id))
    context = {
        **_base(identity, request, "Email templates"),
        "templates": templates,
        "labels": mail.KIND_LABELS,
        # Templates stored before the rules that would fail every email of their kind.
        "problems": {
            t.kind: problem[1]
            for t in templates
            if (problem := mail.delivery_problem(t.kind, t.subject, t.body))
        },
    }
    return render(request, "invitations/templates.html", context)


async def _template_context(
    request: web.Request,
    identity: Identity,
    kind: str,
    subject: str | None,
    body: str | None,
    applicant_id: str | None,
) -> dict[str, Any]:
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        template = await mail.template_for(scope, kind)
        applicants = await scope.all(Applicant)
        applicants.sort(key=lambda a: (a.last_name.lower(), a.first_name.lower()))
        rendered = None
        problem: AppError | None = None
        chosen = applicant_id or (applicants[0].id if applicants else None)
        if chosen:
            try:
                _, rendered = await preview(
                    scope,
                    kind,
                    chosen,
                    request.app[SETTINGS].public_url,
                    now_of(request.app),
                    subject,
                    body,
                )
            except AppError as exc:  # what is wrong is shown next to its field, not previewed
                problem = exc
        elif found := mail.template_problem(
            kind, subject or template.subject, body or template.body
        ):
            problem = ValidationFailed(found[1], field=found[0])
    context = {
        **_base(identity, request, f"Template: {mail.KIND_LABELS[kind]}"),
        "kind": kind,
        "template": template,
        "subject": subject if subject is not None else template.subject,
        "body": body if body is not None else template.body,
        "fields": [(f, mail.FIELD_HELP[f]) for f in mail.FIELDS[kind]],
        "link_required": mail.LINK_REQUIRED.get(kind),
        "applicants": applicants,
        "chosen": chosen,
        "rendered": rendered,
    }
    return with_problem(context, problem)


def with_problem(context: dict[str, Any], problem: AppError | None) -> dict[str, Any]:
    """A problem with the subject or the message goes next to that field; others on top."""
    if problem is None:
        return {**context, "field_error": None}
    if problem.field in ("subject", "body"):
        return {**context, "field_error": problem}
    return {**context, "field_error": None, "error": problem}


async def template_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    kind = request.match_info["kind"]
    if kind not in mail.MAIL_KINDS:
        raise web.HTTPNotFound()
    context = await _template_context(
        request, identity, kind, None, None, request.query.get("applicant_id")
    )
    return render(request, "invitations/template.html", context)


async def template_submit(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    kind = request.match_info["kind"]
    if kind not in mail.MAIL_KINDS:
        raise web.HTTPNotFound()
    form = await request.post()
    action = str(form.get("action", "save"))
    subject, body = str(form.get("subject", "")), str(form.get("body", ""))
    applicant_id = str(form.get("applicant_id", "")) or None
    try:
        if action == "preview":
            context = await _template_context(request, identity, kind, subject, body, applicant_id)
            partial = request.headers.get("HX-Request") == "true"
            name = "invitations/_preview.html" if partial else "invitations/template.html"
            return render(request, name, {**context, "partial": partial})
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            if action == "reset":
                await mail.reset_template(scope, kind)
            else:
                await mail.save_template(scope, kind, subject, body, now=now_of(request.app))
    except AppError as exc:
        context = await _template_context(request, identity, kind, subject, body, None)
        context = with_problem({**context, "rendered": None}, exc)
        return render(request, "invitations/template.html", context, status=exc.status)
    notice = "reset" if action == "reset" else "saved"
    raise web.HTTPSeeOther(f"/invitations/templates/{kind}?notice={notice}")


async def outbox_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    status = request.query.get("status") or None
    if status not in (None, *outbox.STATUSES):
        status = None
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        rows = await outbox_rows(scope, status)
        dead_count = await dead_letter_count(scope)
    context = {
        **_base(identity, request, "Outbox"),
        "rows": rows,
        "status": status,
        "status_labels": OUTBOX_FILTERS,
        "dead_count": dead_count,
        "max_attempts": outbox.MAX_ATTEMPTS,
        "smtp": bool(request.app[SETTINGS].smtp_url),
    }
    return render(request, "invitations/outbox.html", context)


async def message_page(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    async with request.app[DB]() as db:
        row = await ProgramScope(db, identity.actor.program_id).get(
            OutboxMessage, request.match_info["message_id"], what="message"
        )
    context = {
        **_base(identity, request, row.subject or "Email"),
        "row": row,
        "max_attempts": outbox.MAX_ATTEMPTS,
    }
    return render(request, "invitations/message.html", context)


async def retry_submit(request: web.Request) -> web.StreamResponse:
    identity = staff_identity(request, ACTION)
    async with request.app[DB]() as db, db.begin():
        await outbox.retry(
            ProgramScope(db, identity.actor.program_id),
            request.match_info["message_id"],
            now_of(request.app),
        )
    wake(request.app)
    raise web.HTTPSeeOther("/invitations/outbox?notice=retry")


async def scheduling_page(request: web.Request, *, error: AppError | None = None) -> web.Response:
    identity = staff_identity(request, ACTION)
    async with request.app[DB]() as db:
        scope = ProgramScope(db, identity.actor.program_id)
        program = await db.get(Program, identity.actor.program_id)
        sessions = await scope.all(InterviewSession)
        sessions.sort(key=lambda s: (s.date, s.start_time))
        runs = await scope.all(AllocationRun)
        waiting = await allocation.waiting(scope)
        seats = [bookings.SessionSeats(s.id, s.name, s.capacity) for s in sessions]
        free = {o.session.id: o.free for o in await bookings.occupancy(scope, seats)}
    # Staff may seat applicants in hidden sessions too, as "Assign to this session" does.
    open_sessions = [s for s in sessions if s.finalized_at is None and free.get(s.id, 0) > 0]
    open_ids = {s.id for s in open_sessions}
    context = {
        **_base(identity, request, "Scheduling"),
        "options": options_out(program.options if program else {}),
        "sessions": sessions,
        "runs": sorted(runs, key=lambda r: r.ran_at, reverse=True),
        "waiting": waiting,
        "session_names": {s.id: s.name for s in sessions},
        "free": free,
        "open_sessions": open_sessions,
        # The first of their choices that still has a seat is offered first.
        "suggested": {
            w.applicant.id: next((c for c in w.choices if c in open_ids), None) for w in waiting
        },
        "error": error,
    }
    return render(
        request, "invitations/scheduling.html", context, status=error.status if error else 200
    )


async def scheduling_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action = str(form.get("action", ""))
    identity = staff_identity(request, "bookings.write" if action == "assign" else "sessions.write")
    try:
        async with request.app[DB]() as db, db.begin():
            scope = ProgramScope(db, identity.actor.program_id)
            if action == "options":
                await save_options(scope, _options_from(form))
            elif action == "finalize":
                await finalize_session(
                    scope, identity.actor, str(form.get("session_id", "")), request.app
                )
            elif action == "allocate":
                raw = str(form.get("seed", "")).strip()
                seed = int(raw) if raw.isdigit() else None
                await run_allocation(scope, identity.actor, seed, now_of(request.app))
            elif action == "assign":
                session_id = str(form.get("session_id", ""))
                if not session_id:
                    raise ValidationFailed("Choose a session.", field="session_id")
                applicant_id = str(form.get("applicant_id", ""))
                await assign(scope, identity.actor, session_id, [applicant_id], request.app)
            else:
                raise ValidationFailed("Unknown action.")
    except AppError as exc:
        return await scheduling_page(request, error=exc)
    wake(request.app)
    notice = {
        "options": "options",
        "finalize": "finalized",
        "allocate": "allocated",
        "assign": "assigned",
    }[action]
    raise web.HTTPSeeOther(f"/invitations/scheduling?notice={notice}")


def _options_from(form: Any) -> OptionsIn:
    close = str(form.get("preferences_close_at", "")).strip()
    try:
        return OptionsIn(
            self_scheduling=form.get("self_scheduling") == "on",
            waitlist_mode=str(form.get("waitlist_mode", "first_come")),
            offer_hours=float(str(form.get("offer_hours", "24")) or 24),
            manage_deadline_days=int(str(form.get("manage_deadline_days", "0")) or 0),
            reminder_hours=int(str(form.get("reminder_hours", "24")) or 24),
            preferences_close_at=datetime.fromisoformat(close) if close else None,
        )
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(f"Check the scheduling rules: {exc}".splitlines()[0]) from None


def add_routes(app: web.Application) -> None:
    app.router.add_get("/invitations", send_page)
    app.router.add_post("/invitations", send_submit)
    app.router.add_get("/invitations/templates", templates_page)
    app.router.add_get("/invitations/templates/{kind}", template_page)
    app.router.add_post("/invitations/templates/{kind}", template_submit)
    app.router.add_get("/invitations/outbox", outbox_page)
    app.router.add_get("/invitations/outbox/{message_id}", message_page)
    app.router.add_post("/invitations/outbox/{message_id}/retry", retry_submit)
    app.router.add_get("/invitations/scheduling", scheduling_page)
    app.router.add_post("/invitations/scheduling", scheduling_submit)
