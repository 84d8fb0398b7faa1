"""Templates, merge fields, ICS, and the database outbox (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FakeClock, to_datetime
from core.errors import ValidationFailed
from core.scoping import ProgramScope
from portal import calendar, invitations, mail, outbox
from portal.models import Applicant
from portal.models_mail import OutboxMessage
from portal.permissions import Actor
from tests.factories import ProgramData, World

Factory = async_sessionmaker[AsyncSession]


def director(program: ProgramData) -> Actor:
    return Actor("staff", program.staff_id, program.program_id, "Dir", "director", "director")


async def fake_links(db: AsyncSession, row: OutboxMessage) -> str:
    return f"http://test/a/link-for-{row.applicant_id}"


def test_merge_fields_and_html() -> None:
    template = mail.Template(
        "invitation", "Hi {{ first_name }}", "Dear {{name}} <b>\n{{ link }}", 1
    )
    rendered = mail.render(template, {"first_name": "Ann", "name": "Ann A", "link": "http://x/a/t"})
    assert rendered.subject == "Hi Ann"
    assert rendered.text == "Dear Ann A <b>\nhttp://x/a/t"
    assert "Dear Ann A &lt;b&gt;<br>" in rendered.html
    assert '<a href="http://x/a/t">http://x/a/t</a>' in rendered.html


def test_unknown_merge_field_is_named() -> None:
    problem = mail.template_problem("invitation", "Hi", "{{ session }} {{ name }}")
    assert problem is not None and problem[0] == "body" and "{{ session }}" in problem[1]
    assert mail.template_problem("reminder", "Hi", "{{ session }} {{ link }}") is None
    assert mail.template_problem("invitation", "", "x") == ("subject", "Write a subject.")


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [outbox.backoff_seconds(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert outbox.backoff_seconds(20) == 3600


def test_ics_is_in_the_sessions_time_zone() -> None:
    event = calendar.CalendarEvent(
        uid="u1",
        summary="Interview",
        starts_at=datetime(2027, 2, 10, 13, 30, tzinfo=UTC),
        ends_at=datetime(2027, 2, 10, 15, tzinfo=UTC),
        timezone="America/New_York",
    )
    text = calendar.ics(event, stamp=datetime(2027, 1, 1, tzinfo=UTC))
    assert "DTSTART;TZID=America/New_York:20270210T083000" in text
    assert "BEGIN:VTIMEZONE" in text and "METHOD:PUBLISH" in text
    assert calendar.event_timezone(text) == "America/New_York"


async def test_outbox_without_smtp_is_idempotent(factory: Factory, two_programs: World) -> None:
    a = two_programs.a
    clock = FakeClock()
    now = to_datetime(clock.now())
    async with factory() as db, db.begin():
        applicant = await db.get(Applicant, a.applicant_id)
        assert applicant is not None
        applicant.status = "candidate"
        scope = ProgramScope(db, a.program_id)
        first = await invitations.send(
            scope,
            director(a),
            [a.applicant_id],
            request_key="k1",
            now=now,
            deadline_at=datetime(2027, 2, 1, 22, tzinfo=UTC),
        )
        assert len(first.queued) == 1
        # The same request again (a double click, a retried request): nothing new.
        again = await invitations.send(
            scope, director(a), [a.applicant_id], request_key="k1", now=now
        )
        assert (len(again.queued), len(again.already)) == (0, 1)
    report = await outbox.deliver_due(
        factory, outbox.DatabaseOutbox(), fake_links, clock, from_address="x@y.z"
    )
    assert report.sent == 1
    assert (
        await outbox.deliver_due(
            factory, outbox.DatabaseOutbox(), fake_links, clock, from_address="x@y.z"
        )
    ).sent == 0
    async with factory() as db:
        rows = await ProgramScope(db, a.program_id).all(OutboxMessage)
        assert len(rows) == 1
        row = rows[0]
        assert row.status == "sent" and row.transport == "outbox"
        assert row.body_text is not None and "Dear Ann Applicant a" in row.body_text
        assert "Program A" in row.body_text and "February 1, 2027 at 17:00" in row.body_text
        assert row.ics is not None and "TZID=America/New_York" in row.ics
        assert f"http://test/a/link-for-{a.applicant_id}" in row.body_text
        assert row.body_html is not None and "<a href=" in row.body_html
        applicant = await db.get(Applicant, a.applicant_id)
        assert applicant is not None and applicant.status == "invited"
        assert await ProgramScope(db, two_programs.b.program_id).all(OutboxMessage) == []


async def test_release_time_holds_everyone_until_then(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    clock = FakeClock()
    release = to_datetime(clock.now() + 3600)
    async with factory() as db, db.begin():
        await invitations.send(
            ProgramScope(db, a.program_id),
            director(a),
            [a.applicant_id, a.other_applicant_id],
            request_key="k",
            now=to_datetime(clock.now()),
            release_at=release,
        )
    box = outbox.DatabaseOutbox()
    assert (await outbox.deliver_due(factory, box, fake_links, clock, from_address="x")).sent == 0
    await clock.advance(3600)
    assert (await outbox.deliver_due(factory, box, fake_links, clock, from_address="x")).sent == 2


async def test_refused_applicants_are_listed_with_reasons(
    factory: Factory, two_programs: World
) -> None:
    a = two_programs.a
    async with factory() as db, db.begin():
        other = await db.get(Applicant, a.other_applicant_id)
        assert other is not None
        other.status = "withdrawn"
        result = await invitations.send(
            ProgramScope(db, a.program_id),
            director(a),
            [a.applicant_id, other.id],
            request_key="k",
            now=to_datetime(FakeClock().now()),
        )
    assert [i.applicant_id for i in result.queued] == [a.applicant_id]
    assert [(r.applicant.id, r.reason) for r in result.refused] == [
        (a.other_applicant_id, "withdrew from the process")
    ]


async def test_templates_are_per_program(factory: Factory, two_programs: World) -> None:
    now = to_datetime(FakeClock().now())
    async with factory() as db, db.begin():
        await mail.save_template(
            ProgramScope(db, two_programs.a.program_id),
            "invitation",
            "A's words",
            "Hello {{ name }}: {{ link }}",
            now=now,
        )
        with pytest.raises(ValidationFailed):
            await mail.save_template(
                ProgramScope(db, two_programs.a.program_id),
                "invitation",
                "x",
                "{{ nope }}",
                now=now,
            )
    async with factory() as db:
        mine = await mail.template_for(ProgramScope(db, two_programs.a.program_id), "invitation")
        theirs = await mail.template_for(ProgramScope(db, two_programs.b.program_id), "invitation")
    assert mine.subject == "A's words" and mine.customized
    assert theirs.subject == mail.DEFAULTS["invitation"][0] and not theirs.customized
