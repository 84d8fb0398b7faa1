"""The meeting-room API: create, read, update, delete; validation; program isolation."""

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.factories import World
from tests.web.helpers import error_of, login

Client = TestClient[web.Request, web.Application]


def room_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Lunch with residents",
        "starts_at": "2027-01-15T12:00:00-05:00",
        "ends_at": "2027-01-15T13:00:00-05:00",
        "audience": "applicants",
        "external_url": "https://zoom.us/j/123",
    }
    body.update(overrides)
    return body


async def test_crud(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    response = await client.post(
        "/api/v1/meeting-rooms", json=room_body(session_id=world.a.session_id), headers=headers
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["starts_at"] == "2027-01-15T17:00:00Z"
    assert created["session_id"] == world.a.session_id and created["audience"] == "applicants"
    url = f"/api/v1/meeting-rooms/{created['id']}"
    assert await (await client.get(url)).json() == created

    of_session = await client.get(f"/api/v1/meeting-rooms?session_id={world.a.session_id}")
    assert [m["id"] for m in await of_session.json()] == [created["id"]]
    everything = await (await client.get("/api/v1/meeting-rooms")).json()
    assert {m["id"] for m in everything} == {created["id"], world.a.meeting_room_id}

    update = room_body(name="Debrief", audience="staff", external_url=None, session_id=None)
    updated = await (await client.put(url, json=update, headers=headers)).json()
    assert (updated["name"], updated["audience"], updated["external_url"]) == (
        "Debrief",
        "staff",
        None,
    )
    assert updated["session_id"] is None

    assert (await client.delete(url, headers=headers)).status == 204
    assert (await client.get(url)).status == 404


INVALID = [
    ({"name": " "}, "name", "Give the meeting room a name."),
    ({"name": "x" * 121}, "name", "Keep the name under 120 characters."),
    (
        {"ends_at": "2027-01-15T12:00:00-05:00"},
        "ends_at",
        "The room must close after it opens.",
    ),
    (
        {"ends_at": "2027-01-15T11:00:00-05:00"},
        "ends_at",
        "The room must close after it opens.",
    ),
    ({"audience": "everyone"}, "audience", "The audience must be one of applicants, staff, both."),
    (
        {"external_url": "http://zoom.us/j/1"},
        "external_url",
        "The link must be a full https:// address, such as https://zoom.us/j/123.",
    ),
    (
        {"external_url": "zoom.us/j/1"},
        "external_url",
        "The link must be a full https:// address, such as https://zoom.us/j/123.",
    ),
    (
        {"external_url": "https://zoom.us/" + "x" * 500},
        "external_url",
        "Keep the link under 500 characters.",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID)
async def test_invalid_meeting_rooms_are_refused(
    client: Client, world: World, overrides: dict[str, Any], field: str, message: str
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    response = await client.post(
        "/api/v1/meeting-rooms", json=room_body(**overrides), headers=headers
    )
    assert response.status == 422
    error = await error_of(response)
    assert (error["field"], error["message"]) == (field, message)
    update = await client.put(
        f"/api/v1/meeting-rooms/{world.a.meeting_room_id}",
        json=room_body(**overrides),
        headers=headers,
    )
    assert update.status == 422
    unchanged = await (await client.get(f"/api/v1/meeting-rooms/{world.a.meeting_room_id}")).json()
    assert unchanged["name"] == "Welcome"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"starts_at": "2027-01-15T12:00:00"}, "starts_at"),
        ({"ends_at": "tomorrow"}, "ends_at"),
        ({"name": None}, "name"),
    ],
)
async def test_malformed_bodies_name_the_field(
    client: Client, world: World, overrides: dict[str, Any], field: str
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.post(
        "/api/v1/meeting-rooms", json=room_body(**overrides), headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 422
    assert (await error_of(response))["field"] == field


async def test_another_programs_session_is_not_found(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.post(
        "/api/v1/meeting-rooms",
        json=room_body(session_id=world.b.session_id),
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 404
    assert (await error_of(response))["field"] == "session_id"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_another_programs_meeting_room_is_not_found(
    client: Client, world: World, method: str
) -> None:
    csrf = await login(client, world.a.director_email)
    url = f"/api/v1/meeting-rooms/{world.b.meeting_room_id}"
    body = room_body() if method == "PUT" else None
    response = await client.request(method, url, json=body, headers={"X-CSRF-Token": csrf})
    assert response.status == 404
    await login(client, world.b.director_email)
    still = await (await client.get(url)).json()
    assert still["name"] == "Welcome"


async def test_lists_hold_only_the_own_program(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    listed = await (await client.get("/api/v1/meeting-rooms")).json()
    assert [m["id"] for m in listed] == [world.a.meeting_room_id]


async def test_interviewers_read_but_do_not_write(client: Client, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    assert (await client.get("/api/v1/meeting-rooms")).status == 200
    response = await client.post(
        "/api/v1/meeting-rooms", json=room_body(), headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 403
