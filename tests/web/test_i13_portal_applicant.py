"""The applicant's pages (issue 13): after a cancel with self-scheduling on, nobody is told
their choices are "with the coordinator"; without self-scheduling they are (item 10). The
meeting rooms open to them are listed with their times and links (item 9)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from core.scoping import ProgramScope
from portal.models import Booking
from rooms.models import MeetingRoom
from tests.factories import World
from tests.web.test_applicant_pages import post, setup
from web.keys import DB

WITH_COORDINATOR = "Your choices are with the coordinator."


async def booking_ids(client: TestClient, world: World) -> list[str]:  # type: ignore[type-arg]
    async with client.app[DB]() as db:
        rows = await ProgramScope(db, world.a.program_id).all(
            Booking, Booking.applicant_id == world.a.applicant_id
        )
    return [b.id for b in rows]


async def test_after_a_cancel_self_scheduling_says_choose_again(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    ids = await setup(client, world)
    chosen = await post(client, action="choose", first=ids["Roomy"])
    assert chosen.status == 303 and "notice=booked" in chosen.headers["Location"]
    (booking_id,) = await booking_ids(client, world)
    cancelled = await post(client, action="cancel", booking_id=booking_id)
    assert cancelled.status == 303 and "notice=cancelled" in cancelled.headers["Location"]
    html = await (await client.get(cancelled.headers["Location"])).text()
    assert "Your seat is cancelled." in html
    assert WITH_COORDINATOR not in html
    assert "Choose a session on the" in html


async def test_without_self_scheduling_the_choices_are_with_the_coordinator(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    ids = await setup(client, world, self_scheduling=False)
    chosen = await post(client, action="choose", first=ids["Roomy"], second=ids["Tiny"])
    assert chosen.status == 303 and "notice=choices" in chosen.headers["Location"]
    html = await (await client.get("/applicant")).text()
    assert WITH_COORDINATOR in html


async def add_meeting(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
    name: str,
    *,
    audience: str = "both",
    session_id: str | None = None,
    hours: tuple[int, int] = (15, 16),
) -> str:
    """A meeting room on the clock's day (2027-01-15, UTC hours)."""
    async with client.app[DB]() as db, db.begin():
        room = MeetingRoom(
            program_id=world.a.program_id,
            session_id=session_id,
            name=name,
            audience=audience,
            starts_at=datetime(2027, 1, 15, hours[0], tzinfo=UTC),
            ends_at=datetime(2027, 1, 15, hours[1], tzinfo=UTC),
        )
        db.add(room)
        await db.flush()
        return room.id


async def test_the_page_links_the_meeting_rooms_open_to_the_applicant(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    ids = await setup(client, world)
    welcome = world.a.meeting_room_id  # program-wide, for both, 13:00-14:00 UTC
    lunch = await add_meeting(
        client, world, "Lunch", audience="applicants", session_id=ids["Roomy"]
    )
    other = await add_meeting(client, world, "Tiny's lunch", session_id=ids["Tiny"])
    staff = await add_meeting(client, world, "Debrief", audience="staff")
    over = await add_meeting(client, world, "Breakfast", hours=(6, 7))  # the clock is at 08:00

    before = await (await client.get("/applicant")).text()
    assert f'<a href="/live/meeting-rooms/{welcome}">Welcome</a>' in before
    assert f"/live/meeting-rooms/{lunch}" not in before  # not booked in Roomy yet

    booked = await post(client, action="choose", first=ids["Roomy"])
    assert booked.status == 303
    html = await (await client.get("/applicant")).text()
    assert f'<a href="/live/meeting-rooms/{welcome}">Welcome</a>' in html
    assert f'<a href="/live/meeting-rooms/{lunch}">Lunch</a>' in html
    for hidden in (other, staff, over):
        assert f"/live/meeting-rooms/{hidden}" not in html
    section = html.split('id="meetings-h"')[1].split("</section>")[0]
    # Welcome first; times in the program's zone and in the applicant's own (Paris).
    assert section.index("Welcome") < section.index("Lunch")
    assert "Fri Jan 15, 08:00 EST to 09:00" in section
    assert "your time: Fri Jan 15, 14:00 CET to 15:00" in section
    assert "open now" not in section

    room_page = await client.get(f"/live/meeting-rooms/{lunch}")
    assert room_page.status == 200 and "Lunch" in await room_page.text()
