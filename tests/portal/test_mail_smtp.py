"""Delivery against a real SMTP server (aiosmtpd on loopback): retries with backoff, never twice."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock, to_datetime
from core.scoping import ProgramScope
from portal import invitations, outbox
from portal.models_mail import OutboxMessage
from tests.factories import World
from tests.portal.test_mail import director, fake_links
from tests.services import free_port

Factory = async_sessionmaker[AsyncSession]


@dataclass
class Inbox:
    """What the SMTP server received; `fail_next` answers that many DATA commands with 451."""

    messages: list[Message] = field(default_factory=list)
    fail_next: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        if self.loop is not None:  # the server runs in its own thread
            self.loop.call_soon_threadsafe(self.arrived.set)
        return "250 OK"

    async def wait_for(self, count: int, within: float = 20) -> list[Message]:
        """Until `count` messages have arrived (woken by each arrival, no polling)."""
        async with asyncio.timeout(within):
            while len(self.messages) < count:
                self.arrived.clear()
                if len(self.messages) >= count:
                    break
                await self.arrived.wait()
        return list(self.messages)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@dataclass
class SmtpServer:
    inbox: Inbox
    url: str


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    inbox = Inbox(loop=asyncio.get_running_loop())
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(inbox, f"smtp://127.0.0.1:{port}")
    finally:
        controller.stop()


def parts(message: Message) -> dict[str, str]:
    """content type → decoded text, for every leaf part."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        found[part.get_content_type()] = part.get_content()  # type: ignore[attr-defined]
    return found


async def test_smtp_failure_is_retried_with_backoff_and_sent_once(
    factory: Factory, two_programs: World, smtp_server: SmtpServer
) -> None:
    a = two_programs.a
    clock = FakeClock()
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        await invitations.send(
            scope, director(a), [a.applicant_id], request_key="r1", now=to_datetime(clock.now())
        )
    transport = outbox.SmtpTransport(smtp_server.url, timeout=5)
    smtp_server.inbox.fail_next = 1
    first = await outbox.deliver_due(factory, transport, fake_links, clock, from_address="x@y.z")
    assert (first.sent, first.failed) == (0, 1)
    async with factory() as db:
        row = (await ProgramScope(db, a.program_id).all(OutboxMessage))[0]
        assert row.status == "pending" and row.attempts == 1
        assert row.last_error is not None and "451" in row.last_error
        assert row.next_attempt_at == to_datetime(clock.now() + outbox.backoff_seconds(1))
    # Not yet due: nothing is sent before the backoff has passed.
    early = await outbox.deliver_due(factory, transport, fake_links, clock, from_address="x@y.z")
    assert (early.sent, early.failed) == (0, 0)
    await clock.advance(outbox.backoff_seconds(1))
    second = await outbox.deliver_due(factory, transport, fake_links, clock, from_address="x@y.z")
    assert (second.sent, second.failed) == (1, 0)
    again = await outbox.deliver_due(factory, transport, fake_links, clock, from_address="x@y.z")
    assert again.sent == 0
    received = smtp_server.inbox.to("applicant1@a.test")
    assert len(received) == 1
    assert "Ann Applicant a" in parts(received[0])["text/plain"]
    async with factory() as db:
        row = (await ProgramScope(db, a.program_id).all(OutboxMessage))[0]
        assert row.status == "sent" and row.attempts == 2 and row.transport == "smtp"


async def test_gives_up_after_the_last_attempt(
    factory: Factory, two_programs: World, smtp_server: SmtpServer
) -> None:
    a = two_programs.a
    clock = FakeClock()
    async with factory() as db, db.begin():
        await invitations.send(
            ProgramScope(db, a.program_id),
            director(a),
            [a.applicant_id],
            request_key="r",
            now=to_datetime(clock.now()),
        )
    smtp_server.inbox.fail_next = outbox.MAX_ATTEMPTS
    transport = outbox.SmtpTransport(smtp_server.url, timeout=5)
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        report = await outbox.deliver_due(
            factory, transport, fake_links, clock, from_address="x@y.z"
        )
        assert report.failed == 1
        await clock.advance(outbox.backoff_seconds(attempt))
    async with factory() as db, db.begin():
        scope = ProgramScope(db, a.program_id)
        row = (await scope.all(OutboxMessage))[0]
        assert row.status == "failed"
        await outbox.retry(scope, row.id, to_datetime(clock.now()))
    report = await outbox.deliver_due(factory, transport, fake_links, clock, from_address="x@y.z")
    assert report.sent == 1 and len(smtp_server.inbox.messages) == 1
