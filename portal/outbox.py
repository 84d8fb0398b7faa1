"""Delivery: every email is a row first (idempotent by key), then sent by SMTP or kept in the
database outbox when there is no mail server.

A row is claimed (`pending` → `sending`) by one conditional UPDATE, so two workers or two nodes
never send it both. Failures go back to `pending` with a later `next_attempt_at` (exponential
backoff) until the last attempt, then stay `failed` for staff to see and retry. A row found
`sending` long after its claim (the process died mid-send) is marked failed, never resent on its
own: it may have arrived, and a retry must never send twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, to_datetime
from core.errors import Conflict
from core.scoping import ProgramScope
from portal import mail
from portal.audit import record
from portal.models import Applicant, Invitation
from portal.models_mail import OutboxMessage

MAX_ATTEMPTS = 6
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 3600
STALE_SENDING = timedelta(minutes=15)
INVITABLE_ON_SEND = frozenset({"candidate", "waitlist"})


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
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now
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


def build_message(row: OutboxMessage, from_address: str, now: datetime) -> EmailMessage:
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


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int


async def next_due_at(db: AsyncSession) -> datetime | None:
    found: datetime | None = await db.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )
    return found


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
        ids = list(
            await db.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.created_at)
                .limit(limit)
            )
        )
    sent = failed = 0
    for message_id in ids:
        outcome = await deliver_one(
            factory, transport, links, clock, message_id, from_address=from_address
        )
        sent += outcome is True
        failed += outcome is False
    return DeliveryReport(sent, failed)


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
) -> bool | None:
    """True when sent, False when it failed, None when someone else had it or it is not due."""
    now = to_datetime(clock.now())
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
        message = build_message(row, from_address, now)
    error: str | None = None
    try:
        await transport.send(message)
    except Exception as exc:  # any failure of the mail server is recorded, never raised
        error = f"{type(exc).__name__}: {exc}"[:2000]
    async with factory() as db, db.begin():
        row = await db.get(OutboxMessage, message_id)
        if row is None:
            return None
        if error is None:
            row.status = "sent"
            row.sent_at = now
            row.transport = transport.name
            row.last_error = None
        else:
            row.last_error = error
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.status = "pending"
                row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))
        await _after_attempt(db, row, now)
    return error is None


async def _render(db: AsyncSession, row: OutboxMessage, links: LinkMaker) -> None:
    scope = ProgramScope(db, row.program_id)
    template = await mail.template_for(scope, row.kind)
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
