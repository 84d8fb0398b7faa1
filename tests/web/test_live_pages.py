"""The live pages as HTML: the device check, the room page and its refusals, external links."""

from aiohttp.test_utils import TestClient

from portal.models import Booking, Staff
from rooms.models import InterviewSession, MeetingRoom, Room
from tests.factories import World, password_hash
from tests.web.helpers import login
from tests.web.test_magic_link import issue_link
from web.keys import DB


async def as_applicant(client: TestClient, applicant_id: str) -> None:
    token = await issue_link(client, applicant_id)
    await client.get(f"/a/{token}", allow_redirects=False)


async def test_device_check_works_without_logging_in(client: TestClient) -> None:
    response = await client.get("/device-check")
    assert response.status == 200
    html = await response.text()
    for label in (
        '<label for="dc-mic-select">Microphone</label>',
        '<label for="dc-cam-select">Camera</label>',
        '<label for="dc-speaker-select">Speakers</label>',
        '<label for="dc-mic-level"',
        'Microphone <span class="toggle-state">on</span>',
        'Camera <span class="toggle-state">on</span>',
        "Play test sound",
        'role="status"',
        "Microphone that will be used",
        "dist/devicecheck.js",
    ):
        assert label in html, label
    assert "mirrored" in html


async def test_device_check_names_the_person_and_returns_to_the_room(
    client: TestClient, world: World
) -> None:
    await as_applicant(client, world.a.applicant_id)
    room = f"/live/sessions/{world.a.session_id}"
    html = await (await client.get(f"/device-check?next={room}")).text()
    assert "Ann Applicant a" in html
    assert f'id="dc-join" href="{room}"' in html
    # Only our own room pages: the page cannot send people elsewhere.
    other = await (await client.get("/device-check?next=https://evil.test/")).text()
    assert "dc-join" not in other and "evil.test" not in other


async def test_room_page_for_an_applicant_not_booked_says_so(
    client: TestClient, world: World
) -> None:
    await as_applicant(client, world.a.applicant_id)
    response = await client.get(f"/live/sessions/{world.a.session_id}")
    assert response.status == 403
    html = await response.text()
    assert "You are not booked into this session." in html
    assert 'data-refusal="not_booked"' in html
    assert "Coord a (coordinator@a.test)" in html  # the fallback contact


async def test_room_page_for_a_booked_applicant_starts_the_client(
    client: TestClient, world: World
) -> None:
    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=world.a.program_id,
                session_id=world.a.session_id,
                applicant_id=world.a.applicant_id,
            )
        )
    await as_applicant(client, world.a.applicant_id)
    response = await client.get(f"/live/sessions/{world.a.session_id}")
    assert response.status == 200
    html = await response.text()
    assert f'data-join-url="/api/v1/sessions/{world.a.session_id}/join"' in html
    assert 'data-slots="3"' in html and 'data-role="applicant"' in html
    assert "dist/room.js" in html and 'name="csrf-token"' in html
    for control in ('aria-label="Microphone"', 'aria-label="Camera"', ">Devices<", ">Help<"):
        assert control in html, control
    assert ">Leave<" in html and 'role="status"' in html
    assert 'id="side-panel"' not in html  # the scoring panel is the interviewer's


async def test_interviewer_room_leaves_space_for_the_scoring_panel(
    client: TestClient, world: World
) -> None:
    await login(client, world.a.interviewer_email)
    html = await (await client.get(f"/live/sessions/{world.a.session_id}")).text()
    assert '<aside id="side-panel"' in html and 'data-role="interviewer"' in html


async def test_external_session_shows_the_join_link(client: TestClient, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, world.a.session_id)
        room = await db.get(Room, world.a.room_id)
        assert session is not None and room is not None
        session.mode = "external"
        room.external_url = "https://zoom.example/j/123"
    await login(client, world.a.interviewer_email)
    response = await client.get(f"/live/sessions/{world.a.session_id}")
    assert response.status == 200
    html = await response.text()
    assert 'id="external-join" href="https://zoom.example/j/123"' in html
    assert "Join the meeting" in html and "dist/room.js" not in html


async def test_scoring_only_session_has_no_room(client: TestClient, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, world.a.session_id)
        assert session is not None
        session.mode = "scoring-only"
    await login(client, world.a.interviewer_email)
    response = await client.get(f"/live/sessions/{world.a.session_id}")
    assert response.status == 409
    assert "no live rooms" in await response.text()


async def test_another_programs_session_is_not_found(client: TestClient, world: World) -> None:
    await login(client, world.a.interviewer_email)
    response = await client.get(f"/live/sessions/{world.b.session_id}")
    assert response.status == 404


async def test_room_page_sends_strangers_to_log_in(client: TestClient, world: World) -> None:
    response = await client.get(f"/live/sessions/{world.a.session_id}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/login?next=/live/sessions/{world.a.session_id}"


async def test_meeting_room_page(client: TestClient, world: World) -> None:
    await as_applicant(client, world.a.applicant_id)
    path = f"/live/meeting-rooms/{world.a.meeting_room_id}"
    html = await (await client.get(path)).text()
    assert 'data-slots="8"' in html and 'data-kind="meeting"' in html
    assert 'aria-label="Raise hand"' in html and 'aria-label="Share screen"' in html
    async with client.app[DB]() as db, db.begin():
        meeting = await db.get(MeetingRoom, world.a.meeting_room_id)
        assert meeting is not None
        meeting.audience = "staff"
    refused = await client.get(path)
    assert refused.status == 403 and "for staff" in await refused.text()


async def test_external_meeting_room_shows_the_join_link(client: TestClient, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        meeting = await db.get(MeetingRoom, world.a.meeting_room_id)
        assert meeting is not None
        meeting.external_url = "https://teams.example/m/1"
    await login(client, world.a.coordinator_email)
    html = await (await client.get(f"/live/meeting-rooms/{world.a.meeting_room_id}")).text()
    assert 'href="https://teams.example/m/1"' in html


async def test_coordinator_can_observe_a_chosen_room(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    path = f"/live/sessions/{world.a.session_id}"
    html = await (await client.get(f"{path}?room={world.a.room_id}")).text()
    assert 'data-role="observer"' in html and "Room 1" in html
    assert f'data-join-body="{{&#34;room_id&#34;: &#34;{world.a.room_id}&#34;}}"' in html
    plain = await (await client.get(path)).text()
    assert 'data-role="coordinator"' in plain and 'data-join-body="{}"' in plain
    foreign = await client.get(f"{path}?room={world.b.room_id}")
    assert foreign.status == 404


async def test_interviewer_without_a_room_is_told_what_to_do(
    client: TestClient, world: World
) -> None:
    async with client.app[DB]() as db, db.begin():
        db.add(
            Staff(
                program_id=world.a.program_id,
                email="roomless@a.test",
                name="Roomless",
                role="interviewer",
                password_hash=password_hash(),
            )
        )
    await login(client, "roomless@a.test")
    response = await client.get(f"/live/sessions/{world.a.session_id}")
    assert response.status == 403
    html = await response.text()
    assert "You have no room in this session." in html
    assert "Ask the coordinator to assign you to a room" in html
