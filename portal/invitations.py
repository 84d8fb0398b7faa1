"""Invitations: who may be invited, sending to a selection (now or at one release time for all),
and the applicant's answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, TooManyRequests, ValidationFailed
from core.scoping import ProgramScope
from portal import calendar, mail, outbox
from portal.audit import record
from portal.models import Applicant, Booking, Invitation, LoginAttempt, Program
from portal.models_mail import OutboxMessage
from portal.people import applicants_by_id, set_status
from portal.permissions import Actor

INVITABLE = frozenset({"candidate", "waitlist", "invited"})
NOT_INVITABLE_REASONS = {
    "scheduled": "already has an interview booked",
    "declined": "declined the invitation",
    "withdrawn": "withdrew from the process",
    "interviewed": "has already interviewed",
    "no_show": "missed their interview; change their status first to invite again",
}
MAX_KEY = 80


@dataclass(frozen=True)
class Refusal:
    applicant: Applicant
    reason: str


@dataclass(frozen=True)
class SendResult:
    queued: tuple[Invitation, ...]
    already: tuple[Invitation, ...]
    refused: tuple[Refusal, ...]


def refusal_reason(status: str) -> str | None:
    """Why an applicant with this status cannot be invited (None when they can)."""
    if status in INVITABLE:
        return None
    return NOT_INVITABLE_REASONS.get(status, f"has status {status}")


def split_selection(applicants: Sequence[Applicant]) -> tuple[list[Applicant], list[Refusal]]:
    allowed: list[Applicant] = []
    refused: list[Refusal] = []
    for applicant in applicants:
        reason = refusal_reason(applicant.status)
        if reason is None:
            allowed.append(applicant)
        else:
            refused.append(Refusal(applicant, reason))
    return allowed, refused


# No program plans its invitations further ahead; a far date is a typo (and year 9999 would
# overflow the calendar entry).
FURTHEST_AHEAD = timedelta(days=2 * 366)


def check_release(release_at: datetime | None, now: datetime) -> None:
    if release_at is not None and release_at.tzinfo is None:
        raise ValidationFailed("Give the release time with its time zone.", field="release_at")
    if release_at is not None and release_at <= now:
        raise ValidationFailed(
            "The release time has passed; send now or choose a later time.", field="release_at"
        )
    if release_at is not None and release_at > now + FURTHEST_AHEAD:
        raise ValidationFailed("Choose a release time within two years.", field="release_at")


async def check_template_sendable(scope: ProgramScope) -> None:
    """Refuses to queue invitations that could only fail: a template stored before the
    save-time rules (a line break in the subject, no link) is fixed first."""
    template = await mail.template_for(scope, "invitation")
    if problem := mail.delivery_problem("invitation", template.subject, template.body):
        raise ValidationFailed(
            f"The invitation template cannot be sent: {problem[1]} "
            "Fix it under Invitations → Templates, then send."
        )


async def send(
    scope: ProgramScope,
    actor: Actor,
    applicant_ids: Sequence[str],
    *,
    request_key: str,
    now: datetime,
    release_at: datetime | None = None,
    deadline_at: datetime | None = None,
) -> SendResult:
    """Queues one invitation per allowed applicant. The same `request_key` again (a double
    click, a retried request) finds the same invitations and sends nothing new."""
    if not request_key or len(request_key) > MAX_KEY:
        raise ValidationFailed("A request key of 1-80 characters is needed.", field="request_key")
    check_release(release_at, now)
    if deadline_at is not None and (deadline_at.tzinfo is None or deadline_at <= now):
        raise ValidationFailed("The answer-by date must be in the future.", field="deadline_at")
    if deadline_at is not None and deadline_at > now + FURTHEST_AHEAD:
        raise ValidationFailed("Choose an answer-by date within two years.", field="deadline_at")
    await check_template_sendable(scope)
    program = await scope.db.get(Program, scope.program_id)
    assert program is not None
    deadline, ics = _deadline(program, deadline_at, now)
    applicants = await applicants_by_id(scope, applicant_ids)
    allowed, refused = split_selection(applicants)
    queued: list[Invitation] = []
    already: list[Invitation] = []
    for applicant in allowed:
        key = f"invitation:{request_key}:{applicant.id}"
        existing = await scope.db.scalar(
            scope.select(Invitation, Invitation.idempotency_key == key)
        )
        if existing is not None:
            already.append(existing)
            continue
        invitation = scope.add(
            Invitation(
                applicant_id=applicant.id,
                kind="invitation",
                idempotency_key=key,
                status="pending",
                release_at=release_at,
                created_at=now,
            )
        )
        await scope.db.flush()
        await outbox.enqueue(
            scope,
            key=key,
            kind="invitation",
            recipient=outbox.applicant_recipient(applicant),
            context={"program": program.name, "deadline": deadline},
            now=now,
            ics=ics,
            release_at=release_at,
            invitation_id=invitation.id,
        )
        queued.append(invitation)
    record(
        scope.db,
        actor,
        "invitations.send",
        "invitation",
        None,
        queued=len(queued),
        refused=len(refused),
        release_at=release_at.isoformat() if release_at else None,
    )
    return SendResult(tuple(queued), tuple(already), tuple(refused))


def _deadline(
    program: Program, deadline_at: datetime | None, now: datetime
) -> tuple[str, str | None]:
    """The deadline as words for the email, and as a calendar entry so it is not missed."""
    if deadline_at is None:
        return "the date on your page", None
    zone = ZoneInfo(program.timezone)
    event = calendar.CalendarEvent(
        uid=f"invitation-deadline-{program.id}-{int(deadline_at.timestamp())}@interviewday",
        summary=f"Choose your interview date with {program.name}",
        starts_at=deadline_at - timedelta(minutes=30),
        ends_at=deadline_at,
        timezone=program.timezone,
    )
    words = mail.format_when(deadline_at.astimezone(zone), program.timezone)
    return words, calendar.ics(event, stamp=now)


async def of_applicant(scope: ProgramScope, applicant_id: str) -> list[Invitation]:
    rows = await scope.all(Invitation, Invitation.applicant_id == applicant_id)
    return sorted(rows, key=lambda i: i.created_at, reverse=True)


def visible_to_applicant(invitation: Invitation, now: datetime) -> bool:
    # Before the release time nobody sees it, so everyone gets the same start.
    return invitation.release_at is None or invitation.release_at <= now


async def respond(
    scope: ProgramScope, actor: Actor, invitation_id: str, answer: str, now: datetime
) -> Invitation:
    if answer not in ("accepted", "declined"):
        raise ValidationFailed("Answer accepted or declined.", field="response")
    invitation = await scope.get(Invitation, invitation_id, what="invitation")
    if invitation.applicant_id != actor.id or not visible_to_applicant(invitation, now):
        raise ValidationFailed("This invitation is not yours.", field="id", code="not_yours")
    applicant = await scope.get(Applicant, actor.id, what="applicant")
    if invitation.response == answer:
        return invitation  # a double submit changes nothing
    if answer == "declined":
        seats = await scope.all(Booking, Booking.applicant_id == applicant.id)
        if any(b.status == "scheduled" for b in seats):
            raise Conflict(
                "You have an interview booked; cancel it first, then decline.",
                code="has_booking",
            )
        for booking in seats:  # waitlist places go with the declined invitation
            await scope.db.delete(booking)
        set_status(scope, actor, applicant, "declined")
    elif applicant.status in ("declined", "candidate", "waitlist"):
        set_status(scope, actor, applicant, "invited")
    invitation.response = answer
    invitation.responded_at = now
    record(scope.db, actor, f"invitation.{answer}", "invitation", invitation.id)
    return invitation


# A fresh link on request ------------------------------------------------------------------

LINK_STATUSES = frozenset({"invited", "scheduled", "waitlist", "interviewed", "no_show"})
LINKS_PER_ADDRESS_PER_HOUR = 3
LINK_REQUESTS_PER_CLIENT_PER_HOUR = 20


async def request_new_link(db: AsyncSession, email: str, client: str, now: datetime) -> int:
    """Queues a fresh sign-in link for every program where this address is an invited
    applicant; returns how many. At most a few per address and per client an hour, so the form
    cannot be used to flood someone's mailbox."""
    hour_ago = now - timedelta(hours=1)
    client_key = f"link:{client}"
    recent = await db.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.key == client_key, LoginAttempt.at > hour_ago)
    )
    if (recent or 0) >= LINK_REQUESTS_PER_CLIENT_PER_HOUR:
        raise TooManyRequests("Too many link requests from here. Wait an hour and try again.")
    db.add(LoginAttempt(key=client_key, at=now))
    address = email.strip().lower()
    program_ids = list(
        await db.scalars(select(Applicant.program_id).where(func.lower(Applicant.email) == address))
    )
    queued = 0
    for program_id in program_ids:
        scope = ProgramScope(db, program_id)
        applicant = await scope.db.scalar(
            scope.select(Applicant, func.lower(Applicant.email) == address)
        )
        if applicant is None or applicant.status not in LINK_STATUSES:
            continue
        sent = await scope.db.scalar(
            scope.select(OutboxMessage)
            .with_only_columns(func.count())
            .where(
                OutboxMessage.applicant_id == applicant.id,
                OutboxMessage.kind == "new_link",
                OutboxMessage.created_at > hour_ago,
            )
        )
        if (sent or 0) >= LINKS_PER_ADDRESS_PER_HOUR:
            continue
        program = await db.get(Program, program_id)
        await outbox.enqueue(
            scope,
            key=f"new_link:{applicant.id}:{int(now.timestamp())}",
            kind="new_link",
            recipient=outbox.applicant_recipient(applicant),
            context={"program": program.name if program else ""},
            now=now,
        )
        queued += 1
    return queued
