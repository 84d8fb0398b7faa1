"""People placed by staff are told (issue 13, items 8 and 9), through a real SMTP server
(aiosmtpd on loopback): an applicant assigned to a session gets the date with a calendar file
and the meeting rooms open to them; everyone on an itinerary published without finalizing
gets their schedule; nobody gets the same email twice (a second publish call, a finalize
afterwards)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from core.scoping import ProgramScope
from portal.models_mail import OutboxMessage
from rooms.models import MeetingRoom
from tests.conftest import make_settings
from tests.factories import World, build_world
from tests.portal.test_mail_smtp import SmtpServer, parts, smtp_server  # noqa: F401
from tests.web.helpers import login
from tests.web.test_itinerary_api import three_room_session
from tests.web.test_sessions_api import SESSION
from web.api.finalize import announce_itinerary
from web.jobs import JOBS
from web.keys import DB

Client = TestClient  # type: ignore[type-arg]
BASE = "http://interviews.example.test"


@pytest.fixture
async def mailing(
    aiohttp_client: Any,
    db_url: str,
    tmp_path: Path,
    smtp_server: SmtpServer,  # noqa: F811
) -> AsyncIterator[tuple[Client, World]]:
    from web.app import create_app

    settings = make_settings(db_url, tmp_path, smtp_url=smtp_server.url, public_url=BASE)
    client = await aiohttp_client(create_app(settings, clock=FakeClock()))
    yield client, await build_world(client.app[DB])


async def add_meeting_rooms(client: Client, world: World, session_id: str) -> dict[str, str]:
    """The session's lunch (applicants), its debrief (staff only) and a program-wide social on
    the session's day; the world already has a program-wide welcome on another day."""
    a = world.a
    rooms = {
        "Lunch with residents": ("applicants", session_id, 18),
        "Faculty debrief": ("staff", session_id, 21),
        "Evening social": ("both", None, 23),
    }
    ids = {}
    async with client.app[DB]() as db, db.begin():
        for name, (audience, session, hour) in rooms.items():
            room = MeetingRoom(
                program_id=a.program_id,
                session_id=session,
                name=name,
                audience=audience,
                starts_at=datetime(2027, 1, 20, hour, tzinfo=UTC),
                ends_at=datetime(2027, 1, 20, hour, 45, tzinfo=UTC),
            )
            db.add(room)
            await db.flush()
            ids[name] = room.id
    return ids


async def sent_rows(client: Client, world: World, kind: str) -> list[OutboxMessage]:
    async with client.app[DB]() as db:
        return await ProgramScope(db, world.a.program_id).all(
            OutboxMessage, OutboxMessage.kind == kind
        )


async def test_an_assigned_applicant_gets_the_date_and_the_meeting_rooms(
    mailing: tuple[Client, World],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    client, world = mailing
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    session = await (await client.post("/api/v1/sessions", json=SESSION, headers=headers)).json()
    rooms = await add_meeting_rooms(client, world, session["id"])

    made = await client.post(
        f"/api/v1/sessions/{session['id']}/bookings",
        json={"applicant_ids": [world.a.applicant_id]},
        headers=headers,
    )
    assert made.status == 201, await made.text()
    await client.app[JOBS].run_due()
    (message,) = await smtp_server.inbox.wait_for(1)
    await client.app[JOBS].run_due()
    assert len(smtp_server.inbox.messages) == 1  # delivered once

    assert message["To"] == "applicant1@a.test"
    assert message["Subject"] == "Your interview date: January A with Program A"
    text = parts(message)["text/plain"]
    assert "Program A has booked you for January A" in text
    assert "Wednesday, January 20, 2027 at 09:00 (America/Chicago)" in text
    assert f"{BASE}/live/meeting-rooms/{rooms['Lunch with residents']}" in text
    assert f"{BASE}/live/meeting-rooms/{rooms['Evening social']}" in text
    assert "Lunch with residents: Wednesday, January 20, 2027 at 12:00 (America/Chicago)" in text
    assert "Faculty debrief" not in text and "Welcome" not in text
    assert f"{BASE}/a/" in text  # their sign-in link
    assert "text/calendar" in parts(message)
    assert "Interview: January A" in parts(message)["text/calendar"]


async def test_publishing_emails_each_schedule_once_and_finalizing_adds_nothing(
    mailing: tuple[Client, World],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    client, world = mailing
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    rooms = await add_meeting_rooms(client, world, day["id"])
    base = f"/api/v1/sessions/{day['id']}/itinerary"
    assert (await client.post(base + "/generate", headers=headers)).status == 201
    assert (await client.post(base + "/publish", headers=headers)).status == 200
    # What the publish endpoints call once the itinerary is published; called again (here,
    # after the endpoint already did) it queues nothing more.
    for _ in range(2):
        async with client.app[DB]() as db, db.begin():
            await announce_itinerary(ProgramScope(db, world.a.program_id), day["id"], client.app)
    assert len(await sent_rows(client, world, "itinerary")) == 6  # 3 applicants, 3 interviewers
    finalized = await client.post(f"/api/v1/sessions/{day['id']}/finalize", headers=headers)
    assert finalized.status == 200 and (await finalized.json())["emails"] == 0
    await client.app[JOBS].run_due()
    messages = await smtp_server.inbox.wait_for(6)
    await client.app[JOBS].run_due()
    assert len(smtp_server.inbox.messages) == 6
    assert len({m["To"] for m in messages}) == 6

    first = next(m for m in messages if m["To"] == f"ap0-{day['id']}@x.test")
    assert first["Subject"] == "Your itinerary: January A"
    text = parts(first)["text/plain"]
    assert "Round 1, 09:00: Room 1" in text
    assert f"{BASE}/live/meeting-rooms/{rooms['Lunch with residents']}" in text
    assert "Faculty debrief" not in text
    staff = next(m for m in messages if m["To"].startswith("iv0-"))
    assert "Round 1, 09:00, Room 1: App0 Booked" in parts(staff)["text/plain"]
    assert len(await sent_rows(client, world, "itinerary")) == 6
