"""Delivery: every email is a row first (idempotent by key), then sent by SMTP or kept in the
database outbox when there is no mail server.

A row is claimed (`pending` → `sending`) by one conditional UPDATE, so two workers or two nodes
never send it both. A transient failure goes back to `pending` with a later `next_attempt_at`
(exponential backoff: "will retry at …") until the last attempt; a permanent one (see
`portal.mail_failures`) and the last attempt end `failed`, the dead letters: kept with the last
error for staff to see, fix and retry. A row found `sending` long after its claim (the process
died mid-send) is marked failed, never resent on its own: it may have arrived, and a retry must
never send twice.

Each message is handled on its own: whatever one message does (a template stored with a line
break in its subject, an address the server refuses, a rendering error) is recorded on that
row, and the pass goes on with the others. Programs take turns within a pass, so a program
with a thousand emails due cannot hold back another program's one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, to_datetime
from core.errors import Conflict
from core.scoping import ProgramScope
from portal import mail
from portal.audit import record
from portal.mail_failures import (
    Failure,
    MailSetupError,
    UndeliverableMessage,
    send_failure,
    writing_failure,
)
from portal.models import Applicant, Invitation
from portal.models_mail import OutboxMessage

MAX_ATTEMPTS = 6
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 3600
STALE_SENDING = timedelta(minutes=15)
INVITABLE_ON_SEND = frozenset({"candidate", "waitlist"})
STATUSES = ("pending", "sending", "sent", "failed")
log = logging.getLogger("interviewday.mail")


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4, 8 … minutes, at most 1 h."""
    return int(min(FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), LONGEST_RETRY_SECONDS))


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    first_name: str
    applicant_id: str | None = None
    staff_id: str | None = None


def applicant_recipient(applicant: Applicant) -> Recipient:
    return Recipient(
        applicant.email, applicant.display_name, applicant.first_name, applicant_id=applicant.id
    )


async def find(scope: ProgramScope, key: str) -> OutboxMessage | None:
    found: OutboxMessage | None = await scope.db.scalar(
        scope.select(OutboxMessage, OutboxMessage.idempotency_key == key)
    )
    return found


async def enqueue(
    scope: ProgramScope,
    *,
    key: str,
    kind: str,
    recipient: Recipient,
    context: Mapping[str, str],
    now: datetime,
    ics: str | None = None,
    release_at: datetime | None = None,
    invitation_id: str | None = None,
) -> tuple[OutboxMessage, bool]:
    """The message for `key`: the existing one (False) or a new one, queued (True)."""
    mail.check_kind(kind)
    existing = await find(scope, key)
    if existing is not None:
        return existing, False
    row = scope.add(
        OutboxMessage(
            idempotency_key=key,
            kind=kind,
            applicant_id=recipient.applicant_id,
            staff_id=recipient.staff_id,
            invitation_id=invitation_id,
            to_email=recipient.email,
            context={"name": recipient.name, "first_name": recipient.first_name, **context},
            ics=ics,
            status="pending",
            release_at=release_at,
            next_attempt_at=release_at or now,
            attempts=0,
            created_at=now,
        )
    )
    await scope.db.flush()
    return row, True


async def retry(scope: ProgramScope, message_id: str, now: datetime) -> OutboxMessage:
    """Sends a failed message again; one already sent is never sent twice."""
    row = await scope.get(OutboxMessage, message_id, what="message")
    if row.status == "sent":
        raise Conflict("This email was already sent; it is not sent twice.", code="already_sent")
    if row.status == "sending":
        raise Conflict("This email is being sent right now.", code="sending")
    if row.applicant_id is not None:
        # The address may have been corrected since (the usual fix for a refused address).
        applicant = await scope.find(Applicant, row.applicant_id)
        if applicant is not None:
            row.to_email = applicant.email
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
    await _after_attempt(scope.db, row, now)
    return row


# Delivery --------------------------------------------------------------------------------


class Transport(Protocol):
    @property
    def name(self) -> str: ...

    async def send(self, message: EmailMessage) -> None: ...


class DatabaseOutbox:
    """No mail server: the row is the delivered mail, read by staff on the outbox page."""

    name = "outbox"

    async def send(self, message: EmailMessage) -> None:
        return None


@dataclass(frozen=True)
class SmtpTransport:
    """`smtp://user:password@host:port?starttls=1` or `smtps://…` (TLS from the start)."""

    url: str
    timeout: float = 30.0
    name: str = "smtp"

    async def send(self, message: EmailMessage) -> None:
        parts = urlsplit(self.url)
        options = parse_qs(parts.query)
        implicit_tls = parts.scheme == "smtps"
        await aiosmtplib.send(
            message,
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit_tls,
            start_tls=options.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            timeout=self.timeout,
        )


def sender_address(smtp_url: str | None, public_url: str) -> str:
    """`?from=` of the SMTP URL, else interviewday@ the public host (localhost for an IP)."""
    if smtp_url:
        found = parse_qs(urlsplit(smtp_url).query).get("from")
        if found:
            return found[0]
    host = urlsplit(public_url).hostname or "localhost"
    if host.replace(".", "").isdigit() or ":" in host:
        host = "localhost"
    return f"interviewday@{host}"


def check_header(name: str, value: str) -> None:
    if problem := mail.header_problem(value):
        raise UndeliverableMessage(f"The {name} {problem}. Fix it, then retry this email.")


def check_address(name: str, address: str) -> None:
    check_header(name, address)
    if "@" not in address or any(c.isspace() for c in address):
        raise UndeliverableMessage(
            f"The {name} address {address!r} is not one email address. Fix it, then retry."
        )


def build_message(row: OutboxMessage, from_address: str, now: datetime) -> EmailMessage:
    """The email as sent. Headers are checked here, before the mail library sees them: a value
    that would add a header (CR, LF) makes this one message undeliverable, nothing else."""
    if problem := mail.header_problem(from_address):
        raise MailSetupError(f"The sender address (SMTP_URL's from=) {problem}.")
    check_header("subject", row.subject or "")
    check_address("recipient", row.to_email)
    message = EmailMessage()
    message["Subject"] = row.subject or ""
    message["From"] = from_address
    message["To"] = row.to_email
    message["Date"] = format_datetime(now)
    # Derived from the key: a copy that does get through twice is one message to mail readers.
    digest = hashlib.sha256(f"{row.program_id}:{row.idempotency_key}".encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@interviewday>"
    message.set_content(row.body_text or "")
    message.add_alternative(row.body_html or "", subtype="html")
    if row.ics:
        message.add_attachment(
            row.ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="interview.ics",
            params={"method": "PUBLISH"},
        )
    return message


LinkMaker = Callable[[AsyncSession, OutboxMessage], Awaitable[str]]


# sent; failed, to be retried at next_attempt_at; failed for good (a dead letter).
Outcome = Literal["sent", "retry", "dead"]


@dataclass(frozen=True)
class DeliveryReport:
    """One pass: emails sent, emails that failed (`gave_up` of them for good)."""

    sent: int
    failed: int
    gave_up: int = 0


def take_turns(queues: Sequence[Sequence[str]], limit: int) -> list[str]:
    """The first of each queue, then the second of each…, at most `limit` in all."""
    taken: list[str] = []
    for position in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if position < len(queue):
                taken.append(queue[position])
                if len(taken) == limit:
                    return taken
    return taken


async def next_due_at(db: AsyncSession) -> datetime | None:
    found: datetime | None = await db.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )
    return found


async def _due_ids(db: AsyncSession, now: datetime, limit: int) -> list[str]:
    due = (OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
    programs = list(await db.scalars(select(OutboxMessage.program_id).where(*due).distinct()))
    queues = [
        list(
            await db.scalars(
                select(OutboxMessage.id)
                .where(*due, OutboxMessage.program_id == program_id)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
                .limit(limit)
            )
        )
        for program_id in sorted(programs)
    ]
    return take_turns(queues, limit)


async def deliver_due(
    factory: async_sessionmaker[AsyncSession],
    transport: Transport,
    links: LinkMaker,
    clock: Clock,
    *,
    from_address: str,
    limit: int = 200,
) -> DeliveryReport:
    now = to_datetime(clock.now())
    async with factory() as db, db.begin():
        await _fail_stale(db, now)
        ids = await _due_ids(db, now, limit)
    outcomes: list[Outcome | None] = []
    for message_id in ids:
        try:
            outcome = await deliver_one(
                factory, transport, links, clock, message_id, from_address=from_address
            )
        except Exception:  # even recording failed (the database?): the next message still goes
            log.exception("delivering email %s failed; it is tried again later", message_id)
            outcome = "retry"
        outcomes.append(outcome)
    return DeliveryReport(
        sent=outcomes.count("sent"),
        failed=outcomes.count("retry") + outcomes.count("dead"),
        gave_up=outcomes.count("dead"),
    )


async def _fail_stale(db: AsyncSession, now: datetime) -> None:
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - STALE_SENDING)
        .values(
            status="failed",
            last_error="Interrupted while sending: it may have arrived. Retry only if it did not.",
        )
    )


async def deliver_one(
    factory: async_sessionmaker[AsyncSession],
    transport: Transport,
    links: LinkMaker,
    clock: Clock,
    message_id: str,
    *,
    from_address: str,
) -> Outcome | None:
    """What became of the message; None when someone else had it or it is not due."""
    now = to_datetime(clock.now())
    try:
        message = await _claim_and_write(factory, links, message_id, from_address, now)
    except Exception as exc:  # the claim and the words are rolled back; the failure is kept
        unwritten = writing_failure(exc)
        if not unwritten.permanent:
            log.warning("email %s could not be written: %s", message_id, unwritten.error)
        return await _record_unclaimed_failure(factory, message_id, unwritten, now)
    if message is None:
        return None
    failure: Failure | None = None
    try:
        await transport.send(message)
    except Exception as exc:  # any failure of the mail server is recorded, never raised
        failure = send_failure(exc)
    async with factory() as db, db.begin():
        row = await db.get(OutboxMessage, message_id)
        if row is None:
            return None
        if failure is None:
            row.status = "sent"
            row.sent_at = now
            row.transport = transport.name
            row.last_error = None
        else:
            _apply_failure(row, failure, now)
        await _after_attempt(db, row, now)
        return _outcome(row)


async def _claim_and_write(
    factory: async_sessionmaker[AsyncSession],
    links: LinkMaker,
    message_id: str,
    from_address: str,
    now: datetime,
) -> EmailMessage | None:
    async with factory() as db, db.begin():
        claimed = await db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
            )
            .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        row = await db.get(OutboxMessage, message_id)
        assert row is not None
        if row.subject is None:
            # Rendered once, at the first attempt: retries send the very same words and link.
            await _render(db, row, links)
        return build_message(row, from_address, now)


async def _record_unclaimed_failure(
    factory: async_sessionmaker[AsyncSession], message_id: str, failure: Failure, now: datetime
) -> Outcome | None:
    """The message could not be written: its claim was rolled back with the words, so the
    attempt is counted here, on the row as it was (unless another worker has it now)."""
    async with factory() as db, db.begin():
        row = await db.get(OutboxMessage, message_id)
        if row is None or row.status != "pending" or row.next_attempt_at > now:
            return None
        row.attempts += 1
        if failure.permanent:
            # Written again from the (fixed) template on retry; nobody ever received these words.
            row.subject = row.body_text = row.body_html = None
        _apply_failure(row, failure, now)
        await _after_attempt(db, row, now)
        return _outcome(row)


def _outcome(row: OutboxMessage) -> Outcome:
    if row.status == "sent":
        return "sent"
    return "dead" if row.status == "failed" else "retry"


def _apply_failure(row: OutboxMessage, failure: Failure, now: datetime) -> None:
    row.last_error = failure.error
    if failure.permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        row.status = "pending"
        row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))


async def _render(db: AsyncSession, row: OutboxMessage, links: LinkMaker) -> None:
    scope = ProgramScope(db, row.program_id)
    template = await mail.template_for(scope, row.kind)
    # Checked again here: a template stored before the save-time rules may still break a header.
    if problem := mail.delivery_problem(row.kind, template.subject, template.body):
        label = mail.KIND_LABELS.get(row.kind, row.kind)
        raise UndeliverableMessage(
            f"The {label!r} template cannot be sent: {problem[1]} "
            "Fix it under Invitations → Templates, then retry this email."
        )
    fields: dict[str, Any] = dict(row.context)
    if "link" in mail.fields_used(template.subject + template.body):
        fields["link"] = await links(db, row)
    rendered = mail.render(template, {k: str(v) for k, v in fields.items()})
    row.subject = rendered.subject
    row.body_text = rendered.text
    row.body_html = rendered.html


async def _after_attempt(db: AsyncSession, row: OutboxMessage, now: datetime) -> None:
    if row.invitation_id is None:
        return
    invitation = await db.get(Invitation, row.invitation_id)
    if invitation is None:
        return
    invitation.attempts = row.attempts
    invitation.last_error = row.last_error
    invitation.status = {"sent": "sent", "failed": "failed"}.get(row.status, "retrying")
    if row.status != "sent":
        return
    invitation.sent_at = now
    applicant = await db.get(Applicant, invitation.applicant_id)
    if applicant is not None and applicant.status in INVITABLE_ON_SEND:
        record(
            db,
            None,
            "applicant.status",
            "applicant",
            applicant.id,
            program_id=applicant.program_id,
            old=applicant.status,
            new="invited",
            reason="invitation sent",
        )
        applicant.status = "invited"
