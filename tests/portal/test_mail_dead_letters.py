"""One program's poisoned mail never stops another's (real aiosmtpd on loopback, SQLite and
PostgreSQL): a template stored with CR in its subject, an already written subject with CR, a
message that cannot be written, a recipient the server refuses, applicant data with line
breaks. Each poisoned message ends a dead letter with its reason, at once; the others go out in
the same pass; a transient refusal is retried with backoff on a FakeClock."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import default
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock, to_datetime
from core.errors import ValidationFailed
from core.scoping import ProgramScope
from portal import invitations, mail, outbox
from portal.mail_failures import UndeliverableMessage, send_failure, writing_failure
from portal.models import Applicant, Invitation
from portal.models_mail import EmailTemplate, OutboxMessage
from tests.factories import ProgramData, World
from tests.portal.test_mail import director, fake_links
from tests.services import free_port

Factory = async_sessionmaker[AsyncSession]
POISON_SUBJECT = "Interview invitation\r\nBcc: everyone@evil.test"


@dataclass
class Mailbox:
    """An SMTP server's handler: refuses some recipients (code by address), keeps the rest."""

    refuse: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@dataclass
class Server:
    mailbox: Mailbox
    transport: outbox.SmtpTransport


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield Server(mailbox, outbox.SmtpTransport(f"smtp://127.0.0.1:{controller.port}", 5))
    finally:
        controller.stop()


async def deliver(factory: Factory, server: Server, clock: FakeClock) -> outbox.DeliveryReport:
    return await outbox.deliver_due(
        factory, server.transport, fake_links, clock, from_address="mail@interviewday.test"
    )


async def invite(factory: Factory, program: ProgramData, now: datetime, key: str) -> None:
    async with factory() as db, db.begin():
        result = await invitations.send(
            ProgramScope(db, program.program_id),
            director(program),
            [program.applicant_id, program.other_applicant_id],
            request_key=key,
            now=now,
        )
        assert len(result.queued) == 2


async def messages_of(factory: Factory, program_id: str) -> dict[str, OutboxMessage]:
    async with factory() as db:
        return {m.to_email: m for m in await ProgramScope(db, program_id).all(OutboxMessage)}


async def poison_program_a(factory: Factory, a: ProgramData, now: datetime) -> None:
    """Everything that used to stop the whole pass, put straight into the database as old
    data or a careless import would have left it (the invitations are already queued: sending
    with a broken template is refused up front)."""
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        # A template saved before subjects were checked.
        scope.add(
            EmailTemplate(
                kind="invitation", subject=POISON_SUBJECT, body="{{ link }}", updated_at=now
            )
        )
        recipient = outbox.Recipient("refused@a.test", "Rae Fused", "Rae")
        await outbox.enqueue(
            scope, key="refused", kind="new_link", recipient=recipient, context={}, now=now
        )
        # Words written (rendered) long ago, with a line break in the subject.
        written = outbox.Recipient("written@a.test", "Wri Tten", "Wri")
        row, _ = await outbox.enqueue(
            scope, key="written", kind="reminder", recipient=written, context={}, now=now
        )
        row.subject, row.body_text, row.body_html = "Soon\nBcc: x@evil.test", "Hi", "<p>Hi</p>"
        # A kind no template knows: the words cannot be written.
        unknown = outbox.Recipient("unknown@a.test", "Un Known", "Un")
        row, _ = await outbox.enqueue(
            scope, key="unknown", kind="invitation", recipient=unknown, context={}, now=now
        )
        row.kind = "carrier_pigeon"


async def test_a_poisoned_program_never_stops_another_programs_mail(
    factory: Factory, two_programs: World, server: Server
) -> None:
    a, b = two_programs.a, two_programs.b
    clock = FakeClock()
    now = to_datetime(clock.now())
    server.mailbox.refuse["refused@a.test"] = "550 5.1.1 No such user here"
    # Program A's mail is queued first, so a pass that stopped at it would send nothing.
    await invite(factory, a, now, "a-batch")
    await poison_program_a(factory, a, now)
    await clock.advance(1)
    await invite(factory, b, to_datetime(clock.now()), "b-batch")

    report = await deliver(factory, server, clock)

    assert (report.sent, report.failed, report.gave_up) == (2, 5, 5)
    assert {m["To"] for m in server.mailbox.messages} == {"applicant1@b.test", "applicant2@b.test"}
    assert all(b"evil" not in raw for raw in server.mailbox.raw)
    by_address = await messages_of(factory, a.program_id)
    assert {m.status for m in by_address.values()} == {"failed"}
    assert {m.attempts for m in by_address.values()} == {1}, "permanent: not retried"
    template_error = by_address["applicant1@a.test"].last_error or ""
    assert "'Invitation' template cannot be sent" in template_error
    assert "line break (U+000D)" in template_error and "Fix it under" in template_error
    refused_error = by_address["refused@a.test"].last_error or ""
    assert "refused the address" in refused_error and "550" in refused_error
    assert "subject contains a line break" in (by_address["written@a.test"].last_error or "")
    assert "carrier_pigeon" in (by_address["unknown@a.test"].last_error or "")
    assert {m.status for m in (await messages_of(factory, b.program_id)).values()} == {"sent"}
    async with factory() as db:
        statuses = {
            i.applicant_id: i.status for i in await ProgramScope(db, a.program_id).all(Invitation)
        }
    assert statuses == {a.applicant_id: "failed", a.other_applicant_id: "failed"}

    # Dead letters wait for staff: hours later nothing is tried again on its own.
    await clock.advance(6 * 3600)
    later = await deliver(factory, server, clock)
    assert (later.sent, later.failed) == (0, 0) and len(server.mailbox.messages) == 2

    # Staff fix the template and retry: the invitation is written again from the fixed words.
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        await mail.save_template(
            scope, "invitation", "Come interview", "Hi {{ name }}: {{ link }}", now=now
        )
        await outbox.retry(scope, by_address["applicant1@a.test"].id, to_datetime(clock.now()))
    retried = await deliver(factory, server, clock)
    assert retried.sent == 1
    [fixed] = server.mailbox.to("applicant1@a.test")
    assert fixed["Subject"] == "Come interview" and fixed["Bcc"] is None


async def test_applicant_data_never_adds_a_header_and_a_bad_address_stays_alone(
    factory: Factory, two_programs: World, server: Server
) -> None:
    a = two_programs.a
    clock = FakeClock()
    now = to_datetime(clock.now())
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        await mail.save_template(
            scope, "invitation", "Welcome {{ name }}", "Dear {{ name }}: {{ link }}", now=now
        )
        ann = await db.get(Applicant, a.applicant_id)
        bo = await db.get(Applicant, a.other_applicant_id)
        assert ann is not None and bo is not None
        ann.last_name = "Applicant\r\nBcc: everyone@evil.test"
        bo.email = "applicant2@a.test\r\nBcc: everyone@evil.test"
    await invite(factory, a, now, "batch")

    report = await deliver(factory, server, clock)

    assert (report.sent, report.gave_up) == (1, 1)
    [received] = server.mailbox.messages
    assert received["Subject"] == "Welcome Ann Applicant Bcc: everyone@evil.test"
    assert received["Bcc"] is None and received["To"] == "applicant1@a.test"
    rows = {m.applicant_id: m for m in (await messages_of(factory, a.program_id)).values()}
    bad = rows[a.other_applicant_id]
    assert bad.status == "failed" and "recipient" in (bad.last_error or "")
    # The fix is the applicant's address; a retry goes to the address as it is now.
    async with factory() as db, db.begin():
        bo = await db.get(Applicant, a.other_applicant_id)
        assert bo is not None
        bo.email = "bo@a.test"
        await outbox.retry(ProgramScope(db, a.program_id), bad.id, to_datetime(clock.now()))
    assert (await deliver(factory, server, clock)).sent == 1
    assert len(server.mailbox.to("bo@a.test")) == 1


async def test_a_busy_mailbox_is_retried_with_backoff_a_missing_one_is_not(
    factory: Factory, two_programs: World, server: Server
) -> None:
    a = two_programs.a
    clock = FakeClock()
    server.mailbox.refuse["applicant1@a.test"] = "450 4.2.1 Mailbox busy, try later"
    server.mailbox.refuse["applicant2@a.test"] = "550 5.1.1 No such user"
    await invite(factory, a, to_datetime(clock.now()), "batch")

    first = await deliver(factory, server, clock)

    assert (first.sent, first.failed, first.gave_up) == (0, 2, 1)
    rows = await messages_of(factory, a.program_id)
    busy, missing = rows["applicant1@a.test"], rows["applicant2@a.test"]
    assert busy.status == "pending" and busy.attempts == 1 and "450" in (busy.last_error or "")
    assert busy.next_attempt_at == to_datetime(clock.now() + outbox.backoff_seconds(1))
    assert missing.status == "failed" and missing.attempts == 1
    del server.mailbox.refuse["applicant1@a.test"]
    assert (await deliver(factory, server, clock)).sent == 0, "not before the backoff"
    await clock.advance(outbox.backoff_seconds(1))
    assert (await deliver(factory, server, clock)).sent == 1
    rows = await messages_of(factory, a.program_id)
    assert rows["applicant1@a.test"].status == "sent"
    assert rows["applicant2@a.test"].status == "failed"


async def test_invitations_are_not_queued_with_a_template_that_cannot_be_sent(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    now = to_datetime(FakeClock().now())
    async with factory() as db, db.begin():
        ProgramScope(db, a.program_id).add(
            EmailTemplate(kind="invitation", subject="Hi", body="No link here", updated_at=now)
        )
    with pytest.raises(
        ValidationFailed, match=r"invitation template cannot be sent.*\{\{ link \}\}"
    ):
        await invite(factory, a, now, "batch")
    assert await messages_of(factory, a.program_id) == {}


# The pure rules ---------------------------------------------------------------------------


def refusal(code: int) -> aiosmtplib.SMTPRecipientRefused:
    return aiosmtplib.SMTPRecipientRefused(code, "no", "x@y.z")


def test_only_answers_about_this_message_are_permanent() -> None:
    assert send_failure(aiosmtplib.SMTPRecipientsRefused([refusal(550)])).permanent
    assert not send_failure(aiosmtplib.SMTPRecipientsRefused([refusal(451)])).permanent
    assert send_failure(aiosmtplib.SMTPDataError(554, "spam")).permanent
    assert not send_failure(aiosmtplib.SMTPDataError(451, "later")).permanent
    # The server's own setup is the same for every message: wait for the operator.
    assert not send_failure(aiosmtplib.SMTPSenderRefused(550, "no", "a@b.c")).permanent
    assert not send_failure(aiosmtplib.SMTPAuthenticationError(535, "no")).permanent
    assert not send_failure(aiosmtplib.SMTPServerDisconnected("gone")).permanent
    assert not send_failure(ConnectionRefusedError("down")).permanent
    assert "550" in send_failure(aiosmtplib.SMTPRecipientsRefused([refusal(550)])).error


def test_writing_errors_are_permanent_unless_the_database_or_network_failed() -> None:
    assert writing_failure(UndeliverableMessage("bad subject")).error == "bad subject"
    assert writing_failure(KeyError("x")).permanent
    assert writing_failure(ValueError("Header values may not contain linefeed")).permanent
    assert not writing_failure(OperationalError("select", {}, Exception("locked"))).permanent
    assert not writing_failure(TimeoutError()).permanent
    assert len(writing_failure(ValueError("x" * 5000)).error) <= 2000


def test_programs_take_turns_within_a_pass() -> None:
    assert outbox.take_turns([["a1", "a2", "a3"], ["b1"], []], 10) == ["a1", "b1", "a2", "a3"]
    assert outbox.take_turns([["a1", "a2"], ["b1", "b2"]], 3) == ["a1", "b1", "a2"]
    assert outbox.take_turns([], 5) == []


def test_headers_are_one_line_and_merge_values_are_made_so() -> None:
    assert mail.header_problem("Hello") is None
    for bad in ("a\rb", "a\nb", "a\u2028b", "a\x00b", "a\x1bb", "a\x85b"):
        assert mail.header_problem(bad) is not None, repr(bad)
    assert "line break (U+000A)" in (mail.header_problem("a\nb") or "")
    template = mail.Template("invitation", "Hi {{ name }}", "Dear {{ name }}\n{{ link }}", True)
    rendered = mail.render(template, {"name": "Ann\r\n\tBcc: x\x00", "link": "http://x/a/t"})
    assert rendered.subject == "Hi Ann Bcc: x"
    assert rendered.text == "Dear Ann\r\n\tBcc: x\nhttp://x/a/t"
