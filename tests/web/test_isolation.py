"""One program never sees another's data: every object of program B is a 404 to program A."""

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import World
from tests.web.helpers import error_of, login

OBJECT_PATHS = [
    ("staff", "/api/v1/staff/{staff_id}"),
    ("applicant", "/api/v1/applicants/{applicant_id}"),
    ("session", "/api/v1/sessions/{session_id}"),
    ("room", "/api/v1/rooms/{room_id}"),
    ("form", "/api/v1/forms/{form_id}"),
    ("meeting room", "/api/v1/meeting-rooms/{meeting_room_id}"),
]


def fill(template: str, data: object) -> str:
    return template.format(**vars(data))


@pytest.mark.parametrize(("what", "template"), OBJECT_PATHS)
async def test_other_programs_objects_are_not_found(
    client: TestClient, world: World, what: str, template: str
) -> None:
    await login(client, world.a.coordinator_email)
    own = await client.get(fill(template, world.a))
    assert own.status == 200, await own.text()
    foreign = await client.get(fill(template, world.b))
    assert foreign.status == 404
    error = await error_of(foreign)
    assert error["code"] == "not_found"
    assert world.b.program_id not in error["message"]


async def test_lists_hold_only_the_own_program(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    for path in ("/api/v1/applicants", "/api/v1/staff", "/api/v1/sessions", "/api/v1/forms"):
        body = await (await client.get(path)).json()
        assert body, path
        text = str(body)
        assert "@b.test" not in text and "Session b" not in text and "Form b" not in text


async def test_anonymous_gets_401(client: TestClient, world: World) -> None:
    response = await client.get(fill("/api/v1/applicants/{applicant_id}", world.a))
    assert response.status == 401
