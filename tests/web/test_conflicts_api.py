"""The conflict-of-interest API: pairs that must never meet, validated and kept per program."""

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from rooms.models import ConflictOfInterest, Interview, Itinerary
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB

Client = TestClient[web.Request, web.Application]


async def count_conflicts(client: Client) -> int:
    async with client.app[DB]() as db:
        return int(await db.scalar(select(func.count()).select_from(ConflictOfInterest)) or 0)


async def test_crud(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    body = {
        "applicant_id": world.a.applicant_id,
        "staff_id": world.a.interviewer_id,
        "reason": "  Former co-resident  ",
    }
    response = await client.post("/api/v1/conflicts", json=body, headers=headers)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["reason"] == "Former co-resident"
    assert created["already_scheduled_together"] == 0
    url = f"/api/v1/conflicts/{created['id']}"
    fetched = await (await client.get(url)).json()
    assert fetched["applicant_id"] == world.a.applicant_id

    by_applicant = await client.get(f"/api/v1/conflicts?applicant_id={world.a.applicant_id}")
    assert [c["id"] for c in await by_applicant.json()] == [created["id"]]
    by_other = await client.get(f"/api/v1/conflicts?staff_id={world.a.staff_id}")
    assert await by_other.json() == []

    patched = await client.patch(url, json={"reason": ""}, headers=headers)
    assert (await patched.json())["reason"] is None
    assert (await client.delete(url, headers=headers)).status == 204
    assert (await client.get(url)).status == 404


async def test_directors_and_coordinators_can_be_in_conflict(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    body = {"applicant_id": world.a.applicant_id, "staff_id": world.a.staff_id}
    response = await client.post("/api/v1/conflicts", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status == 201


async def test_duplicates_are_refused(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    body = {"applicant_id": world.a.applicant_id, "staff_id": world.a.interviewer_id}
    assert (await client.post("/api/v1/conflicts", json=body, headers=headers)).status == 201
    again = await client.post(
        "/api/v1/conflicts", json={**body, "reason": "again"}, headers=headers
    )
    assert again.status == 409
    error = await error_of(again)
    assert error["code"] == "duplicate"
    assert error["message"] == "This conflict of interest is already recorded."
    assert await count_conflicts(client) == 1


async def test_a_pair_already_scheduled_together_is_reported(client: Client, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        itinerary = Itinerary(program_id=world.a.program_id, session_id=world.a.session_id)
        db.add(itinerary)
        await db.flush()
        db.add(
            Interview(
                program_id=world.a.program_id,
                itinerary_id=itinerary.id,
                session_id=world.a.session_id,
                room_id=world.a.room_id,
                round_number=1,
                applicant_id=world.a.applicant_id,
            )
        )
    csrf = await login(client, world.a.coordinator_email)
    body = {"applicant_id": world.a.applicant_id, "staff_id": world.a.interviewer_id}
    response = await client.post("/api/v1/conflicts", json=body, headers={"X-CSRF-Token": csrf})
    assert (await response.json())["already_scheduled_together"] == 1


@pytest.mark.parametrize(
    ("override", "status", "field", "message"),
    [
        ({"applicant_id": "nobody"}, 404, "applicant_id", "No applicant with id 'nobody'"),
        ({"staff_id": "nobody"}, 404, "staff_id", "No staff member with id 'nobody'"),
        ({"reason": "x" * 1001}, 422, "reason", "Keep the reason under 1000 characters."),
        ({"applicant_id": None}, 422, "applicant_id", None),
        ({"applicant_id": ""}, 422, "applicant_id", "Choose an applicant."),
        ({"staff_id": ""}, 422, "staff_id", "Choose an interviewer."),
    ],
)
async def test_invalid_pairs_are_refused(
    client: Client,
    world: World,
    override: dict[str, Any],
    status: int,
    field: str,
    message: str | None,
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    body = {"applicant_id": world.a.applicant_id, "staff_id": world.a.interviewer_id, **override}
    response = await client.post("/api/v1/conflicts", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status == status
    error = await error_of(response)
    assert error["field"] == field
    if message is not None:
        assert error["message"] == message
    assert await count_conflicts(client) == 0


async def test_staff_who_cannot_interview_are_refused(client: Client, world: World) -> None:
    from portal.models import Staff

    async with client.app[DB]() as db, db.begin():
        db.add(
            Staff(
                id="observer1",
                program_id=world.a.program_id,
                email="observer@a.test",
                name="Olly Observer",
                role="observer",
            )
        )
    csrf = await login(client, world.a.coordinator_email)
    body = {"applicant_id": world.a.applicant_id, "staff_id": "observer1"}
    response = await client.post("/api/v1/conflicts", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status == 422
    error = await error_of(response)
    assert error["field"] == "staff_id"
    assert (
        error["message"]
        == "Olly Observer cannot interview, so cannot be in a conflict of interest."
    )


@pytest.mark.parametrize("which", ["applicant_id", "staff_id"])
async def test_another_programs_people_are_not_found(
    client: Client, world: World, which: str
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    body = {"applicant_id": world.a.applicant_id, "staff_id": world.a.interviewer_id}
    body[which] = world.b.applicant_id if which == "applicant_id" else world.b.interviewer_id
    response = await client.post("/api/v1/conflicts", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status == 404
    assert (await error_of(response))["field"] == which
    assert await count_conflicts(client) == 0


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_another_programs_conflicts_are_not_found(
    client: Client, world: World, method: str
) -> None:
    csrf_b = await login(client, world.b.coordinator_email)
    body = {"applicant_id": world.b.applicant_id, "staff_id": world.b.interviewer_id}
    created = await client.post("/api/v1/conflicts", json=body, headers={"X-CSRF-Token": csrf_b})
    conflict_id = (await created.json())["id"]
    csrf = await login(client, world.a.director_email)
    response = await client.request(
        method,
        f"/api/v1/conflicts/{conflict_id}",
        json={"reason": "mine now"} if method == "PATCH" else None,
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 404
    assert await (await client.get("/api/v1/conflicts")).json() == []
    assert await count_conflicts(client) == 1


async def test_interviewers_cannot_see_conflicts(client: Client, world: World) -> None:
    await login(client, world.a.interviewer_email)
    response = await client.get("/api/v1/conflicts")
    assert response.status == 403
