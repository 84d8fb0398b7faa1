"""Invitations over HTTP: email templates with a preview on a real applicant, sending to a
selection (now or at a release time), and the outbox with failures and retries."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func

from core.errors import ValidationFailed
from core.scoping import ProgramScope
from portal import invitations, mail, outbox
from portal.models import Applicant, Booking, Invitation, Program
from portal.models_mail import OutboxMessage
from portal.people import MAX_BULK
from portal.scheduling import local_time
from rooms.models import InterviewSession
from web import meeting_links
from web.api.framework import Api, Call
from web.booking_rules import now_of, session_info
from web.jobs import wake_after_commit
from web.keys import SETTINGS

api = Api()


class TemplateOut(BaseModel):
    kind: str
    label: str
    subject: str
    body: str
    customized: bool
    fields: list[str]


class TemplateIn(BaseModel):
    subject: str = Field(max_length=mail.MAX_SUBJECT)
    body: str = Field(max_length=mail.MAX_BODY)


class PreviewIn(BaseModel):
    applicant_id: str = Field(min_length=1, max_length=32)
    subject: str | None = Field(default=None, max_length=mail.MAX_SUBJECT)
    body: str | None = Field(default=None, max_length=mail.MAX_BODY)


class PreviewOut(BaseModel):
    to: str
    subject: str
    text: str
    html: str


def template_out(template: mail.Template) -> TemplateOut:
    return TemplateOut(
        kind=template.kind,
        label=mail.KIND_LABELS[template.kind],
        subject=template.subject,
        body=template.body,
        customized=template.customized,
        fields=list(mail.FIELDS[template.kind]),
    )


async def preview(
    scope: ProgramScope,
    kind: str,
    applicant_id: str,
    public_url: str,
    now: datetime,
    subject: str | None = None,
    body: str | None = None,
) -> tuple[Applicant, mail.RenderedMail]:
    """The email as this applicant would get it; the link is shown, not issued."""
    saved = await mail.template_for(scope, kind)
    template = mail.Template(kind, subject or saved.subject, body or saved.body, True)
    if problem := mail.template_problem(kind, template.subject, template.body):
        raise ValidationFailed(problem[1], field=problem[0])
    applicant = await scope.get(Applicant, applicant_id, what="applicant")
    program = await scope.db.get(Program, scope.program_id)
    fields = {
        "name": applicant.display_name,
        "first_name": applicant.first_name,
        "program": program.name if program else "",
        "link": f"{public_url}/a/… (a personal link, made when the email is sent)",
        "deadline": "the date you give when sending",
        "respond_by": "The seat is held for you until … (the response window).",
        "changes": "- Round 2: you move from Room 2 to Room 3.",
        "itinerary": "Round 1, 09:00: Room 1\nRound 2, 09:25: Room 2",
        "meeting_rooms": f"{meeting_links.HEADING}\n"
        f"- Welcome: (its date and time), {public_url}/live/meeting-rooms/…",
    }
    seats = await scope.all(Booking, Booking.applicant_id == applicant.id)
    sessions = await scope.all(
        InterviewSession, *([InterviewSession.id == seats[0].session_id] if seats else [])
    )
    if sessions:
        info = await session_info(scope, sessions[0])
        fields.update(session=info.name, session_time=local_time(info))
    else:
        fields.update(session="(a session)", session_time="(its date and time)")
    return applicant, mail.render(template, fields)


@api.route(
    "GET",
    "/email-templates",
    summary="Every email template of the program (built-in wording where not customized)",
    tags=("invitations",),
    permission="invitations.send",
    response=list[TemplateOut],
)
async def list_templates(call: Call) -> list[TemplateOut]:
    return [template_out(t) for t in await mail.all_templates(call.scope)]


@api.route(
    "PUT",
    "/email-templates/{kind}",
    summary="Save a template (merge fields are checked)",
    tags=("invitations",),
    permission="invitations.send",
    body=TemplateIn,
    response=TemplateOut,
)
async def put_template(call: Call) -> TemplateOut:
    saved = await mail.save_template(
        call.scope,
        call.path("kind"),
        call.body.subject,
        call.body.body,
        now=now_of(call.request.app),
    )
    return template_out(saved)


@api.route(
    "DELETE",
    "/email-templates/{kind}",
    summary="Go back to the built-in wording",
    tags=("invitations",),
    permission="invitations.send",
    response=TemplateOut,
)
async def reset_template(call: Call) -> TemplateOut:
    return template_out(await mail.reset_template(call.scope, call.path("kind")))


@api.route(
    "POST",
    "/email-templates/{kind}/preview",
    summary="Render a template (saved or as given) with a real applicant's data",
    tags=("invitations",),
    permission="invitations.send",
    body=PreviewIn,
    response=PreviewOut,
)
async def post_preview(call: Call) -> PreviewOut:
    mail.check_kind(call.path("kind"))
    applicant, rendered = await preview(
        call.scope,
        call.path("kind"),
        call.body.applicant_id,
        call.request.app[SETTINGS].public_url,
        now_of(call.request.app),
        call.body.subject,
        call.body.body,
    )
    return PreviewOut(
        to=applicant.email, subject=rendered.subject, text=rendered.text, html=rendered.html
    )


class SendIn(BaseModel):
    applicant_ids: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=MAX_BULK
    )
    release_at: datetime | None = None
    deadline_at: datetime | None = None
    request_key: str | None = Field(default=None, min_length=1, max_length=80)


class RefusedOut(BaseModel):
    applicant_id: str
    name: str
    status: str
    reason: str


class InvitationOut(BaseModel):
    id: str
    applicant_id: str
    status: str
    release_at: datetime | None
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    response: str | None
    created_at: datetime


class SendOut(BaseModel):
    request_key: str
    queued: list[InvitationOut]
    already: list[InvitationOut]
    refused: list[RefusedOut]


def invitation_out(row: Invitation) -> InvitationOut:
    return InvitationOut(
        id=row.id,
        applicant_id=row.applicant_id,
        status=row.status,
        release_at=row.release_at,
        sent_at=row.sent_at,
        attempts=row.attempts,
        last_error=row.last_error,
        response=row.response,
        created_at=row.created_at,
    )


def send_out(key: str, result: invitations.SendResult) -> SendOut:
    return SendOut(
        request_key=key,
        queued=[invitation_out(i) for i in result.queued],
        already=[invitation_out(i) for i in result.already],
        refused=[
            RefusedOut(
                applicant_id=r.applicant.id,
                name=r.applicant.display_name,
                status=r.applicant.status,
                reason=r.reason,
            )
            for r in result.refused
        ],
    )


@api.route(
    "POST",
    "/invitations",
    summary="Invite a selection now or at a release time; the same request_key never sends twice",
    tags=("invitations",),
    permission="invitations.send",
    body=SendIn,
    response=SendOut,
    status=202,
)
async def post_invitations(call: Call) -> SendOut:
    key = call.body.request_key or secrets.token_urlsafe(12)
    wake_after_commit(call.db, call.request.app)
    result = await invitations.send(
        call.scope,
        call.staff,
        call.body.applicant_ids,
        request_key=key,
        now=now_of(call.request.app),
        release_at=call.body.release_at,
        deadline_at=call.body.deadline_at,
    )
    return send_out(key, result)


@api.route(
    "GET",
    "/invitations",
    summary="Every invitation with its delivery status",
    tags=("invitations",),
    permission="invitations.send",
    response=list[InvitationOut],
)
async def list_invitations(call: Call) -> list[InvitationOut]:
    rows = await call.scope.all(Invitation)
    rows.sort(key=lambda i: i.created_at, reverse=True)
    return [invitation_out(i) for i in rows]


class MessageOut(BaseModel):
    id: str
    kind: str
    to_email: str
    applicant_id: str | None
    subject: str | None
    body_text: str | None
    has_calendar: bool
    status: str = Field(
        description="pending (waiting, or to be retried at retry_at), sending, sent, or failed: "
        "gave up, a dead letter kept with last_error until staff retry it"
    )
    attempts: int
    retry_at: datetime | None = Field(
        description="When a failed attempt is tried again; null when no retry is scheduled"
    )
    last_error: str | None
    transport: str | None
    release_at: datetime | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime


def message_out(row: OutboxMessage) -> MessageOut:
    return MessageOut(
        id=row.id,
        kind=row.kind,
        to_email=row.to_email,
        applicant_id=row.applicant_id,
        subject=row.subject,
        body_text=row.body_text,
        has_calendar=row.ics is not None,
        status=row.status,
        attempts=row.attempts,
        retry_at=row.next_attempt_at if row.status == "pending" and row.attempts else None,
        last_error=row.last_error,
        transport=row.transport,
        release_at=row.release_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        created_at=row.created_at,
    )


class OutboxQuery(BaseModel):
    status: Literal["pending", "sending", "sent", "failed"] | None = None
    applicant_id: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=200, ge=1, le=1000)


async def outbox_rows(
    scope: ProgramScope,
    status: str | None = None,
    applicant_id: str | None = None,
    limit: int = 200,
) -> list[OutboxMessage]:
    criteria: list[Any] = []
    if status:
        criteria.append(OutboxMessage.status == status)
    if applicant_id:
        criteria.append(OutboxMessage.applicant_id == applicant_id)
    statement = (
        scope.select(OutboxMessage, *criteria)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
        .limit(limit)
    )
    return list((await scope.db.scalars(statement)).all())


async def dead_letter_count(scope: ProgramScope) -> int:
    """The program's emails given up on, waiting for staff to fix and retry them."""
    statement = scope.select(OutboxMessage, OutboxMessage.status == "failed").with_only_columns(
        func.count()
    )
    return int(await scope.db.scalar(statement) or 0)


@api.route(
    "GET",
    "/outbox",
    summary="Emails: sent, waiting, failed (without SMTP, this is where mail is read)",
    tags=("invitations",),
    permission="invitations.send",
    query=OutboxQuery,
    response=list[MessageOut],
)
async def list_outbox(call: Call) -> list[MessageOut]:
    q = call.query
    return [
        message_out(r) for r in await outbox_rows(call.scope, q.status, q.applicant_id, q.limit)
    ]


@api.route(
    "POST",
    "/outbox/{message_id}/retry",
    summary="Send a failed email again (one already sent is never sent twice: 409)",
    tags=("invitations",),
    permission="invitations.send",
    response=MessageOut,
)
async def retry_message(call: Call) -> MessageOut:
    wake_after_commit(call.db, call.request.app)
    row = await outbox.retry(call.scope, call.path("message_id"), now_of(call.request.app))
    return message_out(row)
