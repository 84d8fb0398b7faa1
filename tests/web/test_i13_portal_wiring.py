"""Every way staff place an applicant or publish an itinerary tells the people concerned
(issue 13, item 8): "Assign to this session" on a session's page, the applicants list's bulk
assign, an applicant's Book and Move, the itinerary page's Publish and the publish API.

These pages call `web.api.bookings.assign` / `move_booking` and
`web.api.finalize.announce_itinerary` (the wiring in web/pages/sessions.py,
web/pages/applicants.py and web/api/sessions.py)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from core.scoping import ProgramScope
from portal.models import Booking
from portal.models_mail import OutboxMessage
from tests.factories import World
from tests.web.helpers import login
from tests.web.test_itinerary_api import three_room_session
from tests.web.test_sessions_api import SESSION
from web.keys import DB

Client = TestClient  # type: ignore[type-arg]


async def mails(client: Client, world: World, kind: str) -> list[OutboxMessage]:
    async with client.app[DB]() as db:
        return await ProgramScope(db, world.a.program_id).all(
            OutboxMessage, OutboxMessage.kind == kind
        )


async def form(client: Client, url: str, csrf: str, **data: Any) -> Any:
    response = await client.post(url, data={"csrf_token": csrf, **data}, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response


async def open_seats(client: Client, world: World, capacity: int = 5) -> None:
    from rooms.models import InterviewSession

    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, world.a.session_id)
        assert session is not None
        session.capacity = capacity


async def test_assign_to_this_session_emails_the_applicant(client: Client, world: World) -> None:
    await open_seats(client, world)
    csrf = await login(client, world.a.coordinator_email)
    await form(
        client,
        f"/sessions/{world.a.session_id}",
        csrf,
        action="assign",
        applicant_ids=world.a.applicant_id,
    )
    (sent,) = await mails(client, world, "assignment")
    assert sent.applicant_id == world.a.applicant_id
    assert sent.context["session"] == "Session a"


async def test_the_applicants_pages_email_bulk_assigns_books_and_moves(
    client: Client, world: World
) -> None:
    await open_seats(client, world)
    csrf = await login(client, world.a.coordinator_email)
    a = world.a
    await form(
        client,
        "/applicants/bulk",
        csrf,
        action="assign",
        session_id=a.session_id,
        applicant_ids=a.applicant_id,
    )
    await form(client, f"/applicants/{a.other_applicant_id}/book", csrf, session_id=a.session_id)
    assert sorted(m.applicant_id or "" for m in await mails(client, world, "assignment")) == sorted(
        [a.applicant_id, a.other_applicant_id]
    )
    session = await (
        await client.post(
            "/api/v1/sessions",
            json={**SESSION, "name": "Later", "date": "2027-02-20"},
            headers={"X-CSRF-Token": csrf},
        )
    ).json()
    async with client.app[DB]() as db:
        (booking,) = await ProgramScope(db, a.program_id).all(
            Booking, Booking.applicant_id == a.applicant_id
        )
    await form(
        client,
        f"/applicants/{a.applicant_id}/bookings/{booking.id}/move",
        csrf,
        session_id=session["id"],
    )
    moved = [m for m in await mails(client, world, "assignment") if m.context["session"] == "Later"]
    assert [m.applicant_id for m in moved] == [a.applicant_id]


async def test_publishing_on_the_itinerary_page_emails_everyone(
    client: Client, world: World
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    day = await three_room_session(client, world, csrf)
    page = f"/sessions/{day['id']}/itinerary"
    await form(client, page, csrf, action="generate")
    await form(client, page, csrf, action="publish")
    sent = await mails(client, world, "itinerary")
    assert sorted(m.applicant_id for m in sent if m.applicant_id) == sorted(day["applicants"])
    assert len(sent) == 6  # and the three interviewers


async def test_the_publish_api_emails_everyone(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    base = f"/api/v1/sessions/{day['id']}/itinerary"
    assert (await client.post(base + "/generate", headers=headers)).status == 201
    assert (await client.post(base + "/publish", headers=headers)).status == 200
    assert len(await mails(client, world, "itinerary")) == 6
    assert (await client.post(f"/api/v1/sessions/{day['id']}/finalize", headers=headers)).ok
    assert len(await mails(client, world, "itinerary")) == 6  # finalizing sends nothing new
