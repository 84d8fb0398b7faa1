"""Staff pages: send with refusals listed, a release time, scheduling rules and finalizing."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from core.scoping import ProgramScope
from portal.models import Applicant, Program
from portal.models_mail import OutboxMessage
from rooms.models import InterviewSession
from tests.factories import World
from tests.web.helpers import login
from tests.web.test_itinerary_api import three_room_session
from web.jobs import JOBS
from web.keys import DB


async def test_send_page_lists_refusals_and_holds_until_release(
    client: TestClient, world: World
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    async with client.app[DB]() as db, db.begin():
        other = await db.get(Applicant, world.a.other_applicant_id)
        assert other is not None
        other.status = "interviewed"
    page = await (await client.get("/invitations")).text()
    assert "Invite Ann Applicant a" in page and "has already interviewed" in page
    response = await client.post(
        "/invitations",
        data={
            "csrf_token": csrf,
            "request_key": "form-1",
            "applicant_ids": [world.a.applicant_id, world.a.other_applicant_id],
            "release_at": "2027-01-16T09:00",
        },
    )
    html = await response.text()
    assert response.status == 200 and "1 invitation queued" in html
    assert "Bo Applicant a" in html and "has already interviewed" in html
    await client.app[JOBS].run_due()
    async with client.app[DB]() as db:
        [row] = await ProgramScope(db, world.a.program_id).all(OutboxMessage)
    assert row.status == "pending" and row.release_at is not None
    assert row.release_at.isoformat() == "2027-01-16T14:00:00+00:00"  # 09:00 in New York
    past = await client.post(
        "/invitations",
        data={
            "csrf_token": csrf,
            "request_key": "form-2",
            "applicant_ids": [world.a.applicant_id],
            "release_at": "2020-01-01T09:00",
        },
    )
    assert past.status == 422 and "release time has passed" in await past.text()


async def test_scheduling_page_saves_rules_and_finalizes(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    day = await three_room_session(client, world, csrf)
    saved = await client.post(
        "/invitations/scheduling",
        data={
            "csrf_token": csrf,
            "action": "options",
            "self_scheduling": "on",
            "waitlist_mode": "sequential",
            "offer_hours": "6",
            "manage_deadline_days": "2",
            "reminder_hours": "24",
            "preferences_close_at": "",
        },
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    async with client.app[DB]() as db:
        program = await db.get(Program, world.a.program_id)
        assert program is not None and program.options["offer_hours"] == 6
    finalized = await client.post(
        "/invitations/scheduling",
        data={"csrf_token": csrf, "action": "finalize", "session_id": day["id"]},
        allow_redirects=False,
    )
    assert finalized.status == 303
    async with client.app[DB]() as db:
        session = await db.get(InterviewSession, day["id"])
        assert session is not None and session.finalized_at is not None
    again = await client.post(
        "/invitations/scheduling",
        data={"csrf_token": csrf, "action": "finalize", "session_id": day["id"]},
    )
    assert again.status == 409 and "already finalized" in await again.text()


async def test_interviewers_cannot_reach_the_invitation_pages(
    client: TestClient, world: World
) -> None:
    await login(client, world.a.interviewer_email)
    assert (await client.get("/invitations")).status == 403
    assert (await client.get("/api/v1/outbox")).status == 403
