"""Meeting-room pages: list, add, edit, delete; times in the program's zone; errors in place."""

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from rooms.models import MeetingRoom
from tests.factories import World
from tests.web.helpers import login
from web.keys import DB

Client = TestClient[web.Request, web.Application]


def fields(csrf: str, **overrides: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "name": "Lunch",
        "starts_at": "2027-01-15T12:00",
        "ends_at": "2027-01-15T13:00",
        "audience": "applicants",
        "external_url": "",
        "session_id": "",
    }
    values.update(overrides)
    return values


async def post(client: Client, path: str, data: dict[str, Any]) -> Any:
    return await client.post(path, data=data, allow_redirects=False)


async def test_the_list_shows_times_in_the_programs_zone(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    html = await (await client.get("/meeting-rooms")).text()
    # The factory's Welcome room opens 13:00 UTC: 08:00 in New York.
    assert "Welcome" in html and "2027-01-15 08:00" in html and "09:00" in html
    assert "Times in America/New_York" in html and "Add a meeting room" in html


async def test_adding_a_meeting_room(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await post(
        client,
        "/meeting-rooms",
        fields(csrf, session_id=world.a.session_id, external_url="https://zoom.us/j/9"),
    )
    assert (
        response.status == 303 and response.headers["Location"] == "/meeting-rooms?notice=created"
    )
    html = await (await client.get(response.headers["Location"])).text()
    assert "Meeting room added." in html and "Lunch" in html and "Session a" in html
    assert 'href="https://zoom.us/j/9"' in html
    async with client.app[DB]() as db:
        (lunch,) = [m for m in await _all(db) if m.name == "Lunch"]
    assert lunch.starts_at.isoformat() == "2027-01-15T17:00:00+00:00"


async def _all(db: Any) -> list[MeetingRoom]:
    from sqlalchemy import select

    return list((await db.scalars(select(MeetingRoom))).all())


async def test_errors_are_shown_next_to_the_field(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    cases = [
        ({"name": ""}, "meeting-name", "Give the meeting room a name."),
        ({"ends_at": "2027-01-15T11:00"}, "meeting-ends_at", "The room must close after it opens."),
        ({"starts_at": ""}, "meeting-starts_at", "Give the opening time as a date and time."),
        (
            {"external_url": "http://x.test"},
            "meeting-external_url",
            "The link must be a full https:// address",
        ),
        ({"audience": "all"}, "meeting-audience", "The audience must be one of"),
        ({"session_id": world.b.session_id}, "meeting-session_id", "No session with id"),
    ]
    for overrides, field_id, message in cases:
        response = await post(client, "/meeting-rooms", fields(csrf, **overrides))
        html = await response.text()
        assert response.status in (404, 422), overrides
        assert message in html, overrides
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html), overrides
        assert f'id="{field_id}-error"' in html
    async with client.app[DB]() as db:
        assert [m.name for m in await _all(db)] == ["Welcome", "Welcome"]


async def test_editing_and_deleting(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    url = f"/meeting-rooms/{world.a.meeting_room_id}"
    form = await (await client.get(url)).text()
    assert 'value="Welcome"' in form and 'value="2027-01-15T08:00"' in form
    bad = await post(client, url, fields(csrf, name=" "))
    assert bad.status == 422 and "Give the meeting room a name." in await bad.text()
    saved = await post(client, url, fields(csrf, name="Debrief", audience="staff"))
    assert saved.headers["Location"] == "/meeting-rooms?notice=updated"
    html = await (await client.get("/meeting-rooms")).text()
    assert "Debrief" in html and "Staff" in html
    deleted = await post(client, f"{url}/delete", {"csrf_token": csrf})
    assert deleted.headers["Location"] == "/meeting-rooms?notice=deleted"
    assert (await client.get(url)).status == 404


async def test_interviewers_read_only(client: Client, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    html = await (await client.get("/meeting-rooms")).text()
    assert "Welcome" in html and "Add a meeting room" not in html and "Delete" not in html
    response = await post(client, "/meeting-rooms", fields(csrf))
    assert response.status == 403


async def test_other_programs_rooms_are_not_found(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    url = f"/meeting-rooms/{world.b.meeting_room_id}"
    assert (await client.get(url)).status == 404
    assert (await post(client, url, fields(csrf))).status == 404
    assert (await post(client, f"{url}/delete", {"csrf_token": csrf})).status == 404
    async with client.app[DB]() as db:
        room_b = await db.get(MeetingRoom, world.b.meeting_room_id)
    assert room_b is not None and room_b.name == "Welcome"
