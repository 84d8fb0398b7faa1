"""POST /sessions/{id}/join and /meeting-rooms/{id}/join: who gets which role and room."""

from typing import Any

from aiohttp.test_utils import TestClient

from core.security import TokenError
from portal.models import Booking
from signaling.grants import read_join_token
from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_magic_link import issue_link
from web.keys import DB, TOKENS


async def join(client: TestClient, path: str, csrf: str, body: Any = None) -> Any:
    return await client.post(path, json=body or {}, headers={"X-CSRF-Token": csrf})


async def test_interviewer_gets_their_room(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    response = await join(client, f"/api/v1/sessions/{world.a.session_id}/join", csrf)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["role"] == "interviewer" and body["room_name"] == "Room 1"
    assert body["namespace"] == "/live" and body["ice_servers"] == []
    grant = read_join_token(client.app[TOKENS], body["token"])
    assert grant.scope == world.a.session_id and grant.person_id == world.a.interviewer_id


async def test_coordinator_observes_a_chosen_room(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    path = f"/api/v1/sessions/{world.a.session_id}/join"
    plain = await (await join(client, path, csrf)).json()
    assert plain["role"] == "coordinator"
    watching = await (await join(client, path, csrf, {"room_id": world.a.room_id})).json()
    assert watching["role"] == "observer" and watching["room_name"] == "Room 1"
    foreign = await join(client, path, csrf, {"room_id": world.b.room_id})
    assert foreign.status == 404


async def test_applicant_must_be_booked(client: TestClient, world: World) -> None:
    token = await issue_link(client, world.a.applicant_id)
    await client.get(f"/a/{token}")
    me = await (await client.get("/api/v1/auth/me")).json()
    path = f"/api/v1/sessions/{world.a.session_id}/join"
    refused = await join(client, path, me["csrf_token"])
    assert refused.status == 403
    assert (await error_of(refused))["code"] == "not_booked"
    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=world.a.program_id,
                session_id=world.a.session_id,
                applicant_id=world.a.applicant_id,
            )
        )
    allowed = await (await join(client, path, me["csrf_token"])).json()
    assert allowed["role"] == "applicant" and allowed["room_name"] == "Waiting room"
    other_program = await join(
        client, f"/api/v1/sessions/{world.b.session_id}/join", me["csrf_token"]
    )
    assert other_program.status == 404


async def test_meeting_room_audience(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    response = await join(client, f"/api/v1/meeting-rooms/{world.a.meeting_room_id}/join", csrf)
    body = await response.json()
    assert body["role"] == "participant" and body["room_key"].startswith("meeting:")
    assert (
        await join(client, f"/api/v1/meeting-rooms/{world.b.meeting_room_id}/join", csrf)
    ).status == 404


async def test_join_tokens_expire(client: TestClient, world: World, clock: Any) -> None:
    csrf = await login(client, world.a.interviewer_email)
    body = await (await join(client, f"/api/v1/sessions/{world.a.session_id}/join", csrf)).json()
    await clock.advance(11 * 60)
    try:
        read_join_token(client.app[TOKENS], body["token"])
    except TokenError as exc:
        assert exc.reason == "expired"
    else:
        raise AssertionError("an old join token still opened")
