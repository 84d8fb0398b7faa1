"""An external-link day: after the clock or the console moves an applicant on, their page (and
a reload of it) shows the Join link of the room they belong in now (issue 13)."""

from __future__ import annotations

from typing import Any

from core.clock import FakeClock
from portal.models import Booking, Staff
from rooms.models import Interview, InterviewSession, Itinerary, Room, RoomInterviewer, Round
from tests.factories import World, password_hash
from tests.web.helpers import login
from tests.web.test_live_pages import as_applicant
from web.daytrack import DAYS
from web.keys import DB

ROOM_1_LINK = "https://zoom.example/j/111"
ROOM_2_LINK = "https://zoom.example/j/222"


async def external_day(client: Any, world: World) -> None:
    """Ann interviews in room 1 in round 1 and in room 2 in round 2; each room has its link."""
    a = world.a
    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, a.session_id)
        assert session is not None
        session.mode = "external"
        session.interview_minutes, session.review_minutes = 10, 2
        first = await db.get(Room, a.room_id)
        assert first is not None
        first.external_url = ROOM_1_LINK
        second_interviewer = Staff(
            program_id=a.program_id,
            email="iv2@a.test",
            name="Second Interviewer",
            role="interviewer",
            password_hash=password_hash(),
        )
        second = Room(
            program_id=a.program_id,
            session_id=a.session_id,
            name="Room 2",
            position=1,
            external_url=ROOM_2_LINK,
        )
        db.add_all([second_interviewer, second])
        await db.flush()
        db.add(
            RoomInterviewer(
                program_id=a.program_id, room_id=second.id, staff_id=second_interviewer.id
            )
        )
        db.add(
            Booking(program_id=a.program_id, session_id=a.session_id, applicant_id=a.applicant_id)
        )
        for number in (1, 2):
            db.add(Round(program_id=a.program_id, session_id=a.session_id, number=number))
        itinerary = Itinerary(program_id=a.program_id, session_id=a.session_id, status="published")
        db.add(itinerary)
        await db.flush()
        for number, room_id in ((1, a.room_id), (2, second.id)):
            db.add(
                Interview(
                    program_id=a.program_id,
                    itinerary_id=itinerary.id,
                    session_id=a.session_id,
                    room_id=room_id,
                    round_number=number,
                    applicant_id=a.applicant_id,
                )
            )


async def command(client: Any, world: World, kind: str) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/day/commands",
        json={"kind": kind, "command_id": f"{kind}-{id(object())}"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["ok"], await response.text()
    await client.app[DAYS].runners[world.a.session_id].settled()


async def applicant_page(client: Any, world: World) -> str:
    await as_applicant(client, world.a.applicant_id)
    response = await client.get(f"/live/sessions/{world.a.session_id}")
    assert response.status == 200
    return str(await response.text())


def join_link(url: str) -> str:
    return f'id="external-join" href="{url}"'


async def test_after_a_skip_the_page_shows_round_twos_link(client: Any, world: World) -> None:
    await external_day(client, world)
    assert join_link(ROOM_1_LINK) in await applicant_page(client, world)

    await command(client, world, "start")
    assert join_link(ROOM_1_LINK) in await applicant_page(client, world)
    await command(client, world, "skip")  # round 1 and its review end now: round 2 begins
    html = await applicant_page(client, world)
    assert join_link(ROOM_2_LINK) in html and ROOM_1_LINK not in html
    assert "Room 2" in html
    reloaded = await applicant_page(client, world)  # the same after a reload
    assert join_link(ROOM_2_LINK) in reloaded and ROOM_1_LINK not in reloaded


async def test_when_the_clock_reaches_round_two_the_page_follows(
    client: Any, world: World, clock: FakeClock
) -> None:
    await external_day(client, world)
    await command(client, world, "start")
    await clock.advance(12 * 60)  # ten minutes of interview and two of review
    await client.app[DAYS].runners[world.a.session_id].settled()
    html = await applicant_page(client, world)
    assert join_link(ROOM_2_LINK) in html and ROOM_1_LINK not in html
