"""Invitations over HTTP: send with refusals, idempotent resend, outbox page and API, template
preview with a real applicant, program isolation, the new-link request, finalizing."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from portal.models import Applicant, Program
from portal.models_mail import OutboxMessage
from rooms.models import InterviewSession, Itinerary
from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_itinerary_api import three_room_session
from web.jobs import JOBS
from web.keys import DB


async def run_jobs(client: TestClient) -> None:  # type: ignore[type-arg]
    await client.app[JOBS].run_due()


async def outbox_of(client: TestClient, program_id: str) -> list[OutboxMessage]:  # type: ignore[type-arg]
    async with client.app[DB]() as db:
        from core.scoping import ProgramScope

        return await ProgramScope(db, program_id).all(OutboxMessage)


async def test_send_lists_refusals_and_never_sends_twice(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf}
    async with client.app[DB]() as db, db.begin():
        other = await db.get(Applicant, world.a.other_applicant_id)
        assert other is not None
        other.status = "declined"
    body: dict[str, Any] = {
        "applicant_ids": [world.a.applicant_id, world.a.other_applicant_id],
        "request_key": "batch-1",
    }
    response = await client.post("/api/v1/invitations", json=body, headers=headers)
    assert response.status == 202, await response.text()
    sent = await response.json()
    assert [i["applicant_id"] for i in sent["queued"]] == [world.a.applicant_id]
    assert sent["refused"] == [
        {
            "applicant_id": world.a.other_applicant_id,
            "name": "Bo Applicant a",
            "status": "declined",
            "reason": "declined the invitation",
        }
    ]
    again = await (await client.post("/api/v1/invitations", json=body, headers=headers)).json()
    assert again["queued"] == [] and len(again["already"]) == 1
    await run_jobs(client)
    rows = await outbox_of(client, world.a.program_id)
    assert len(rows) == 1 and rows[0].status == "sent" and rows[0].transport == "outbox"
    listed = await (await client.get("/api/v1/outbox", headers=headers)).json()
    assert [m["to_email"] for m in listed] == ["applicant1@a.test"]
    retry = await client.post(f"/api/v1/outbox/{rows[0].id}/retry", headers=headers)
    assert retry.status == 409 and (await error_of(retry))["code"] == "already_sent"
    page = await (await client.get("/invitations/outbox")).text()
    assert "No mail server is configured" in page and "Interview invitation: Program A" in page
    message = await (await client.get(f"/invitations/outbox/{rows[0].id}")).text()
    assert "Dear Ann Applicant a" in message and "/a/" in message


async def test_outbox_and_templates_stay_in_their_program(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf}
    saved = await client.put(
        "/api/v1/email-templates/invitation",
        json={"subject": "A only", "body": "Hello {{ first_name }}, {{ link }}"},
        headers=headers,
    )
    assert saved.status == 200, await saved.text()
    bad = await client.put(
        "/api/v1/email-templates/invitation",
        json={"subject": "x", "body": "{{ secret }}"},
        headers=headers,
    )
    assert bad.status == 422 and (await error_of(bad))["field"] == "body"
    await client.post(
        "/api/v1/invitations", json={"applicant_ids": [world.a.applicant_id]}, headers=headers
    )
    await run_jobs(client)
    preview = await client.post(
        "/api/v1/email-templates/invitation/preview",
        json={"applicant_id": world.a.applicant_id},
        headers=headers,
    )
    assert (await preview.json())["text"].startswith("Hello Ann,")
    foreign = await client.post(
        "/api/v1/email-templates/invitation/preview",
        json={"applicant_id": world.b.applicant_id},
        headers=headers,
    )
    assert foreign.status == 404
    await client.post("/api/v1/auth/logout", headers=headers)

    csrf_b = await login(client, world.b.director_email)
    headers_b = {"X-CSRF-Token": csrf_b}
    assert await (await client.get("/api/v1/outbox", headers=headers_b)).json() == []
    templates = await (await client.get("/api/v1/email-templates", headers=headers_b)).json()
    assert next(t for t in templates if t["kind"] == "invitation")["subject"] != "A only"
    [row] = await outbox_of(client, world.a.program_id)
    assert (await client.post(f"/api/v1/outbox/{row.id}/retry", headers=headers_b)).status == 404
    assert (await client.get(f"/invitations/outbox/{row.id}")).status == 404


async def test_template_page_previews_with_a_real_applicant(
    client: TestClient, world: World
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    page = await client.get(f"/invitations/templates/reminder?applicant_id={world.a.applicant_id}")
    html = await page.text()
    assert page.status == 200 and "Dear Ann Applicant a" in html and "{{ session_time }}" in html
    response = await client.post(
        "/invitations/templates/reminder",
        data={
            "csrf_token": csrf,
            "action": "save",
            "subject": "Soon: {{ session }}",
            "body": "{{ nope }}",
        },
    )
    assert response.status == 422
    assert "is not a merge field here" in await response.text()


async def test_request_link_sends_a_fresh_link_and_is_rate_limited(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    for _ in range(5):
        await clock.advance(1)  # the same second twice is one request (a double submit)
        page = await client.post("/a/request-link", data={"email": "APPLICANT1@a.test"})
        assert page.status == 200 and "on its way" in await page.text()
    unknown = await client.post("/a/request-link", data={"email": "nobody@x.test"})
    assert "on its way" in await unknown.text()
    await run_jobs(client)
    rows = [r for r in await outbox_of(client, world.a.program_id) if r.kind == "new_link"]
    assert len(rows) == 3  # at most three an hour for one address
    assert all(r.status == "sent" and r.body_text and "/a/" in r.body_text for r in rows)
    # Each new link revokes the older ones: only the newest opens.
    newest = max(rows, key=lambda r: r.created_at)
    links = [r.body_text.split("/a/", 1)[1].split()[0] for r in rows if r.body_text]
    newest_link = newest.body_text.split("/a/", 1)[1].split()[0] if newest.body_text else ""
    for link in links:
        opened = await client.get(f"/a/{link}", allow_redirects=False)
        assert opened.status == (303 if link == newest_link else 410)


async def test_finalize_locks_publishes_and_emails_everyone(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    response = await client.post(f"/api/v1/sessions/{day['id']}/finalize", headers=headers)
    assert response.status == 200, await response.text()
    result = await response.json()
    assert result["applicants"] == 3 and result["emails"] == 6  # 3 applicants, 3 interviewers
    again = await client.post(f"/api/v1/sessions/{day['id']}/finalize", headers=headers)
    assert again.status == 409 and (await error_of(again))["code"] == "already_finalized"
    async with client.app[DB]() as db:
        session = await db.get(InterviewSession, day["id"])
        itinerary = await db.get(Itinerary, result["itinerary_id"])
        assert session is not None and session.finalized_at is not None
        assert itinerary is not None and itinerary.status == "published"
    await run_jobs(client)
    rows = [r for r in await outbox_of(client, world.a.program_id) if r.kind == "itinerary"]
    assert len(rows) == 6 and all(r.status == "sent" and r.ics for r in rows)
    assert any(r.body_text and "Round 1, 09:00" in r.body_text for r in rows)


async def test_scheduling_options_round_trip(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    headers = {"X-CSRF-Token": csrf}
    body = {
        "self_scheduling": True,
        "waitlist_mode": "sequential",
        "offer_hours": 12,
        "manage_deadline_days": 3,
        "reminder_hours": 48,
    }
    saved = await client.put("/api/v1/scheduling/options", json=body, headers=headers)
    assert saved.status == 200, await saved.text()
    async with client.app[DB]() as db:
        program = await db.get(Program, world.a.program_id)
        assert program is not None and program.options["waitlist_mode"] == "sequential"
    got = await (await client.get("/api/v1/scheduling/options")).json()
    assert got["offer_hours"] == 12 and got["manage_deadline_days"] == 3
    wrong = await client.put(
        "/api/v1/scheduling/options", json={**body, "waitlist_mode": "lottery"}, headers=headers
    )
    assert wrong.status == 422


async def test_reminders_go_out_before_the_session(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    async with client.app[DB]() as db, db.begin():
        program = await db.get(Program, world.a.program_id)
        assert program is not None
        program.options = {"self_scheduling": True, "reminder_hours": 24}
        session = InterviewSession(
            program_id=world.a.program_id,
            name="Soon",
            date=date(2027, 1, 17),
            start_time=time(9),
            timezone="America/New_York",
            capacity=2,
            visible=True,
        )
        db.add(session)
        await db.flush()
        session_id = session.id
    from core.scoping import ProgramScope
    from portal.permissions import Actor
    from web.api import scheduling as actions
    from web.booking_rules import now_of

    async with client.app[DB]() as db, db.begin():
        actor = Actor("applicant", world.a.applicant_id, world.a.program_id, "Ann")
        await actions.book(
            ProgramScope(db, world.a.program_id), actor, session_id, now_of(client.app)
        )
    await run_jobs(client)
    # Sunday 09:00 New York is 14:00 UTC; the reminder is due 24 h before.
    await clock.advance(2 * 86400 + 6 * 3600 - 24 * 3600 - 1)
    await run_jobs(client)
    assert [r.kind for r in await outbox_of(client, world.a.program_id)] == ["confirmation"]
    await clock.advance(1)
    await run_jobs(client)
    await run_jobs(client)
    reminders = [r for r in await outbox_of(client, world.a.program_id) if r.kind == "reminder"]
    assert len(reminders) == 1 and reminders[0].status == "sent" and reminders[0].ics
