"""The applicant's pages: tabs, seats shown plainly, and a clear message for a full session, a
closed deadline, a hidden session, a double submit; schedule-change emails."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from core.scoping import ProgramScope
from portal.models import Applicant, Booking, Program
from portal.models_mail import OutboxMessage
from rooms.models import InterviewSession
from tests.factories import World
from tests.web.helpers import login
from tests.web.test_itinerary_api import three_room_session
from tests.web.test_magic_link import issue_link
from web.jobs import JOBS
from web.keys import DB


async def setup(client: TestClient, world: World, **options: Any) -> dict[str, str]:  # type: ignore[type-arg]
    async with client.app[DB]() as db, db.begin():
        program = await db.get(Program, world.a.program_id)
        assert program is not None
        program.options = {"self_scheduling": True, **options}
        ids = {}
        for name, capacity, visible, day in (
            ("Roomy", 5, True, date(2027, 3, 1)),
            ("Tiny", 1, True, date(2027, 3, 2)),
            ("Secret", 5, False, date(2027, 3, 3)),
            ("Next week", 5, True, date(2027, 1, 20)),
        ):
            session = InterviewSession(
                program_id=world.a.program_id,
                name=name,
                date=day,
                start_time=time(9),
                timezone="America/Chicago",
                capacity=capacity,
                visible=visible,
            )
            db.add(session)
            await db.flush()
            ids[name] = session.id
        applicant = await db.get(Applicant, world.a.applicant_id)
        assert applicant is not None
        applicant.timezone = "Europe/Paris"
    token = await issue_link(client, world.a.applicant_id)
    await client.get(f"/a/{token}")
    return ids


async def csrf_of(client: TestClient) -> str:  # type: ignore[type-arg]
    me = await (await client.get("/api/v1/auth/me")).json()
    return str(me["csrf_token"])


async def post(client: TestClient, **data: str) -> Any:  # type: ignore[type-arg]
    return await client.post(
        "/applicant/act",
        data={"csrf_token": await csrf_of(client), **data},
        allow_redirects=False,
    )


async def test_sessions_show_seats_and_both_time_zones(client: TestClient, world: World) -> None:
    ids = await setup(client, world, manage_deadline_days=7)
    html = await (await client.get("/applicant/invitations")).text()
    assert "Roomy" in html and "5 of 5 seats left" in html
    assert "Secret" not in html  # hidden sessions are not shown
    assert "Mon Mar 1, 09:00 CST" in html and "your time: Mon Mar 1, 16:00 CET" in html
    assert 'id="first"' in html and 'id="second"' in html
    assert "Next week" in html and "Closed" in html  # listed, but not in the choice form
    assert f'value="{ids["Next week"]}"' not in html


async def test_each_refusal_is_a_clear_message(client: TestClient, world: World) -> None:
    ids = await setup(client, world, manage_deadline_days=7)
    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=world.a.program_id,
                session_id=ids["Tiny"],
                applicant_id=world.a.other_applicant_id,
                status="scheduled",
            )
        )
    full = await post(client, action="choose", tab="invitations", first=ids["Tiny"])
    assert full.status == 409
    assert "Tiny is full." in await full.text() and 'role="alert"' in await full.text()
    hidden = await post(client, action="choose", tab="invitations", first=ids["Secret"])
    assert hidden.status == 404 and "not open for booking" in await hidden.text()
    closed = await post(client, action="choose", tab="invitations", first=ids["Next week"])
    assert closed.status == 409 and "7 days before the session" in await closed.text()
    booked = await post(client, action="choose", tab="invitations", first=ids["Roomy"])
    assert booked.status == 303 and booked.headers["Location"] == "/applicant?notice=booked"
    double = await post(client, action="choose", tab="invitations", first=ids["Roomy"])
    assert double.status == 409 and "reschedule it instead" in await double.text()
    home = await (await client.get("/applicant?notice=booked")).text()
    assert "You are booked" in home and "Roomy" in home and "Cancel this interview" in home
    waitlist = await post(client, action="waitlist", tab="invitations", session_id=ids["Tiny"])
    assert waitlist.status == 303
    pending = await (await client.get("/applicant")).text()
    assert "Leave the waitlist" in pending


async def test_someone_elses_booking_is_not_found(client: TestClient, world: World) -> None:
    ids = await setup(client, world)
    async with client.app[DB]() as db, db.begin():
        other = Booking(
            program_id=world.a.program_id,
            session_id=ids["Roomy"],
            applicant_id=world.a.other_applicant_id,
            status="scheduled",
        )
        db.add(other)
        await db.flush()
        other_id = other.id
    response = await post(client, action="cancel", booking_id=other_id)
    assert response.status == 404
    async with client.app[DB]() as db:
        assert await db.get(Booking, other_id) is not None


async def test_published_schedule_change_is_emailed_once(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    base = f"/api/v1/sessions/{day['id']}/itinerary"
    await client.post(base + "/generate", headers=headers)
    await client.post(base + "/publish", headers=headers)
    a, b, _ = day["applicants"]
    edited = await client.post(
        base + "/edit",
        headers=headers,
        json={"kind": "swap", "round": 2, "applicant_id": a, "other_applicant_id": b},
    )
    assert edited.status == 200, await edited.text()
    jobs = client.app[JOBS]
    await jobs.run_due()
    async with client.app[DB]() as db:
        early = await ProgramScope(db, world.a.program_id).all(
            OutboxMessage, OutboxMessage.kind == "schedule_change"
        )
    assert early == []  # edits settle for a minute, so several become one email
    await clock.advance(60)
    await jobs.run_due()
    await jobs.run_due()
    async with client.app[DB]() as db:
        sent = await ProgramScope(db, world.a.program_id).all(
            OutboxMessage, OutboxMessage.kind == "schedule_change"
        )
    recipients = sorted(m.applicant_id or m.to_email for m in sent)
    assert len(sent) == len(set(recipients)) >= 2
    mine = next(m for m in sent if m.applicant_id == a)
    assert (
        mine.status == "sent" and mine.body_text and "Round 2: App0 Booked moves" in mine.body_text
    )
