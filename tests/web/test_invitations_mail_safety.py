"""Mail headers and links are checked at save (API and page: 4xx naming the field, nothing
stored), and the Outbox page tells "will retry at …" from "gave up" (the dead letters) with the
reason and a retry, through the app's own jobs loop."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FakeClock, to_datetime
from core.scoping import ProgramScope
from portal import mail, outbox
from portal.models_mail import EmailTemplate, OutboxMessage
from rooms.models import InterviewSession
from tests.factories import World
from tests.web.helpers import error_of, login
from web.jobs import JOBS
from web.keys import DB


class Elements(HTMLParser):
    """Attributes and text of every element with an id (enough to read one page's form)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.attrs: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self.open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.attrs[str(found["id"])] = found
            self.text[str(found["id"])] = ""
        if tag not in ("input", "br", "meta", "link", "img"):
            self.open.append((tag, found.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, element_id in self.open:
            if element_id:
                self.text[element_id] += data


async def stored_templates(client: TestClient, program_id: str) -> list[EmailTemplate]:  # type: ignore[type-arg]
    async with client.app[DB]() as db:
        return await ProgramScope(db, program_id).all(EmailTemplate)


@pytest.mark.parametrize(
    ("kind", "subject", "body", "field", "words"),
    [
        ("invitation", "Hi\r\nBcc: all@evil.test", "{{ link }}", "subject", "line break"),
        ("invitation", "Hi\rthere", "{{ link }}", "subject", "U+000D"),
        ("reminder", "Hi\x00", "{{ link }}", "subject", "control character"),
        ("reminder", "Hi\u2028there", "{{ link }}", "subject", "line break"),
        ("invitation", "x" * 201, "{{ link }}", "subject", "200"),
        ("invitation", "Hi", "{{ link }}" + "x" * 20_000, "body", "20000"),
        ("invitation", "Hi", "Choose a date soon.", "body", "{{ link }}"),
        ("waitlist_offer", "Hi", "A seat is free.", "body", "{{ link }}"),
        ("new_link", "Hi", "Here it is.", "body", "{{ link }}"),
        ("reminder", "Hi", "See you {{ link }}\x07", "body", "control character"),
    ],
)
async def test_the_api_refuses_a_broken_template_and_stores_nothing(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    kind: str,
    subject: str,
    body: str,
    field: str,
    words: str,
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.put(
        f"/api/v1/email-templates/{kind}",
        json={"subject": subject, "body": body},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 422
    error = await error_of(response)
    assert error["field"] == field and words in error["message"], error
    assert await stored_templates(client, world.a.program_id) == []


async def test_kinds_that_only_inform_may_leave_the_link_out(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.put(
        "/api/v1/email-templates/reminder",
        json={"subject": "See you on {{ session_time }}", "body": "Dear {{ name }}, see you."},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, await response.text()
    assert set(mail.LINK_REQUIRED) == {"invitation", "waitlist_offer", "new_link"}
    assert all("{{ link }}" in mail.DEFAULTS[kind][1] for kind in mail.LINK_REQUIRED)


async def test_the_page_shows_the_problem_next_to_its_field_and_stores_nothing(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    subject_bad = await client.post(
        "/invitations/templates/invitation",
        data={
            "csrf_token": csrf,
            "action": "save",
            "subject": "Hi\r\nBcc: all@evil.test",
            "body": "Dear {{ name }}: {{ link }}",
        },
    )
    assert subject_bad.status == 422
    page = Elements(await subject_bad.text())
    assert page.attrs["subject"].get("aria-invalid") == "true"
    assert page.attrs["subject"].get("aria-describedby") == "subject-error"
    assert "line break" in page.text["subject-error"]
    assert page.attrs["body"].get("aria-invalid") is None

    link_missing = await client.post(
        "/invitations/templates/invitation",
        data={"csrf_token": csrf, "action": "save", "subject": "Hi", "body": "Dear {{ name }}"},
    )
    assert link_missing.status == 422
    page = Elements(await link_missing.text())
    assert page.attrs["body"].get("aria-invalid") == "true"
    assert "body-error" in str(page.attrs["body"].get("aria-describedby"))
    assert "Put {{ link }} in the message" in page.text["body-error"]
    assert "{{ link }}" in page.text["body-link"], "the rule is said before saving too"
    assert page.attrs["subject"].get("aria-invalid") is None
    assert await stored_templates(client, world.a.program_id) == []

    # While typing (htmx), the preview says what is wrong instead of failing.
    typing = await client.post(
        "/invitations/templates/invitation",
        data={"csrf_token": csrf, "action": "preview", "subject": "Hi", "body": "No link"},
        headers={"HX-Request": "true"},
    )
    assert typing.status == 200
    assert "Put {{ link }} in the message" in Elements(await typing.text()).text["preview-problem"]


async def test_a_template_stored_before_the_rules_is_shown_with_its_problem(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    await login(client, world.a.coordinator_email)
    async with client.app[DB]() as db, db.begin():
        ProgramScope(db, world.a.program_id).add(
            EmailTemplate(kind="invitation", subject="Old\r\nBcc: x@evil.test", body="{{ link }}")
        )
    response = await client.get("/invitations/templates/invitation")
    assert response.status == 200
    page = Elements(await response.text())
    assert page.attrs["subject"].get("aria-invalid") == "true"
    assert "line break" in page.text["subject-error"]
    listing = Elements(await (await client.get("/invitations/templates")).text())
    assert "Cannot be sent" in listing.text["problem-invitation"]
    assert "problem-reminder" not in listing.text


async def test_the_outbox_tells_a_retry_from_a_dead_letter_and_retries_it(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    clock: FakeClock,
) -> None:
    a, b = world.a, world.b
    csrf_b = await login(client, b.director_email)
    queued_b = await client.post(
        "/api/v1/invitations",
        json={"applicant_ids": [b.applicant_id, b.other_applicant_id]},
        headers={"X-CSRF-Token": csrf_b},
    )
    assert queued_b.status == 202
    await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf_b})
    csrf = await login(client, a.director_email)
    headers = {"X-CSRF-Token": csrf}
    queued = await client.post(
        "/api/v1/invitations", json={"applicant_ids": [a.applicant_id]}, headers=headers
    )
    assert queued.status == 202
    # The template breaks after the invitation was queued (old data, or a direct edit).
    async with client.app[DB]() as db, db.begin():
        ProgramScope(db, a.program_id).add(
            EmailTemplate(kind="invitation", subject="Hi\r\nBcc: x@evil.test", body="{{ link }}")
        )
    refused = await client.post(
        "/api/v1/invitations", json={"applicant_ids": [a.other_applicant_id]}, headers=headers
    )
    assert refused.status == 422
    assert "invitation template cannot be sent" in (await error_of(refused))["message"]
    # A reminder that will fail for a passing reason (retried, not given up on).
    now = to_datetime(clock.now())
    retry_at = now + timedelta(minutes=2)
    async with client.app[DB]() as db, db.begin():
        row, _ = await outbox.enqueue(
            ProgramScope(db, a.program_id),
            key="busy",
            kind="reminder",
            recipient=outbox.Recipient("busy@a.test", "Bu Sy", "Bu"),
            context={},
            now=now,
            release_at=retry_at,
        )
        row.attempts, row.last_error = 1, "SMTPRecipientsRefused: 450 mailbox busy"

    await client.app[JOBS].run_due()

    async with client.app[DB]() as db:
        rows_b = await ProgramScope(db, b.program_id).all(OutboxMessage)
        rows_a = await ProgramScope(db, a.program_id).all(OutboxMessage)
    assert [r.status for r in rows_b] == ["sent", "sent"], "B's mail goes out in the same pass"
    [dead] = [r for r in rows_a if r.kind == "invitation"]
    assert dead.status == "failed" and "template cannot be sent" in (dead.last_error or "")

    listed = {
        m["id"]: m for m in await (await client.get("/api/v1/outbox", headers=headers)).json()
    }
    assert listed[dead.id]["status"] == "failed" and listed[dead.id]["retry_at"] is None
    busy = next(m for m in listed.values() if m["to_email"] == "busy@a.test")
    assert busy["status"] == "pending" and busy["retry_at"] is not None
    bad_filter = await client.get("/api/v1/outbox?status=exploded", headers=headers)
    assert bad_filter.status == 422 and (await error_of(bad_filter))["field"] == "status"

    page = Elements(await (await client.get("/invitations/outbox")).text())
    assert "could not be delivered" in page.text["dead-letters"]
    dead_row = page.text[f"message-{dead.id}"]
    assert "gave up" in dead_row and "Reason:" in dead_row and "template cannot be sent" in dead_row
    assert "Retry" in dead_row
    busy_row = page.text[f"message-{busy['id']}"]
    assert "will retry at" in busy_row and retry_at.strftime("%H:%M UTC") in busy_row
    assert "Retry" not in busy_row and "450 mailbox busy" in busy_row

    message = await (await client.get(f"/invitations/outbox/{dead.id}")).text()
    assert "gave up" in message and "Retry this email" in message

    # Fixed, then retried from the page: the invitation goes out with the new words.
    saved = await client.put(
        "/api/v1/email-templates/invitation",
        json={"subject": "Come interview", "body": "Hi {{ name }}: {{ link }}"},
        headers=headers,
    )
    assert saved.status == 200
    retried = await client.post(
        f"/invitations/outbox/{dead.id}/retry", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert retried.status == 303
    await client.app[JOBS].run_due()
    async with client.app[DB]() as db:
        again = await db.get(OutboxMessage, dead.id)
    assert again is not None and again.status == "sent" and again.subject == "Come interview"


async def test_a_sender_with_a_line_break_is_refused_at_start(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    runner = client.app[JOBS]
    url = "smtp://127.0.0.1:25?from=mail%40a.test%0D%0ABcc:%20all%40evil.test"
    with pytest.raises(ValueError, match="line break"):
        dataclasses.replace(runner, settings=dataclasses.replace(runner.settings, smtp_url=url))
    fine = "smtp://127.0.0.1:25?from=mail%40a.test"
    started = dataclasses.replace(
        runner, settings=dataclasses.replace(runner.settings, smtp_url=fine)
    )
    assert started.from_address == "mail@a.test"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"release_at": "9999-12-31T23:59:59+09:00"}, "release_at"),
        ({"deadline_at": "9999-12-31T23:59:59+09:00"}, "deadline_at"),
        ({"release_at": "0001-01-01T00:00:00+05:00"}, "release_at"),
        ({"applicant_ids": ["x" * 33]}, "applicant_ids.0"),
    ],
)
async def test_sending_refuses_dates_and_ids_no_program_needs(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    body: dict[str, object],
    field: str,
) -> None:
    csrf = await login(client, world.a.director_email)
    response = await client.post(
        "/api/v1/invitations",
        json={"applicant_ids": [world.a.applicant_id], **body},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 422
    assert (await error_of(response))["field"] == field
    async with client.app[DB]() as db:
        assert await ProgramScope(db, world.a.program_id).all(OutboxMessage) == []


async def test_one_programs_broken_session_never_holds_back_anothers_mail(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    # A session stored with a time zone that does not exist (old data, a direct edit): the
    # reminder planner cannot place it. Before, that stopped every program's delivery.
    async with client.app[DB]() as db, db.begin():
        broken = await db.get(InterviewSession, world.b.session_id)
        assert broken is not None
        broken.timezone = "Mars/Olympus_Mons"
    csrf = await login(client, world.a.director_email)
    queued = await client.post(
        "/api/v1/invitations",
        json={"applicant_ids": [world.a.applicant_id]},
        headers={"X-CSRF-Token": csrf},
    )
    assert queued.status == 202
    await client.app[JOBS].run_due()
    async with client.app[DB]() as db:
        [sent] = await ProgramScope(db, world.a.program_id).all(OutboxMessage)
    assert sent.status == "sent"
