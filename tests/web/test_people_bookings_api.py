"""Manual booking through the API: seats, capacity, moves, removal, isolation."""

from __future__ import annotations

from datetime import date, time

from aiohttp.test_utils import TestClient

from portal.models import Applicant
from rooms.models import InterviewSession
from tests.factories import ProgramData, World
from tests.web.helpers import error_of, login
from web.keys import DB


async def new_session(client: TestClient, program: ProgramData, name: str, capacity: int) -> str:  # type: ignore[type-arg]
    async with client.app[DB]() as db, db.begin():
        session = InterviewSession(
            program_id=program.program_id,
            name=name,
            date=date(2027, 3, 1),
            start_time=time(8),
            timezone="America/Chicago",
            capacity=capacity,
        )
        db.add(session)
        await db.flush()
        return session.id


async def test_book_move_remove(client: TestClient, world: World) -> None:
    a = world.a
    march = await new_session(client, a, "March 1", 1)
    april = await new_session(client, a, "April 1", 2)
    headers = {"X-CSRF-Token": await login(client, a.coordinator_email)}
    booked = await client.post(
        f"/api/v1/sessions/{march}/bookings",
        json={"applicant_ids": [a.applicant_id]},
        headers=headers,
    )
    assert booked.status == 201, await booked.text()
    (booking,) = await booked.json()
    assert (booking["session_id"], booking["status"]) == (march, "scheduled")
    profile = await (await client.get(f"/api/v1/applicants/{a.applicant_id}")).json()
    assert profile["status"] == "scheduled"

    full = await client.post(
        f"/api/v1/sessions/{march}/bookings",
        json={"applicant_ids": [a.other_applicant_id]},
        headers=headers,
    )
    assert full.status == 409
    error = await error_of(full)
    assert error["code"] == "session_full"
    assert error["message"] == (
        "March 1 is full: 1 of 1 seats are taken and 1 more seat were asked for (0 free)."
    )
    twice = await client.post(
        f"/api/v1/sessions/{april}/bookings",
        json={"applicant_ids": [a.applicant_id]},
        headers=headers,
    )
    assert twice.status == 409 and (await error_of(twice))["code"] == "already_booked"

    listing = await (await client.get(f"/api/v1/sessions/{march}/bookings")).json()
    assert (listing["capacity"], listing["booked"], listing["free"], listing["full"]) == (
        1,
        1,
        0,
        True,
    )
    assert listing["bookings"][0]["applicant_name"] == "Ann Applicant a"

    moved = await client.post(
        f"/api/v1/bookings/{booking['id']}/move", json={"session_id": april}, headers=headers
    )
    assert moved.status == 200 and (await moved.json())["session_id"] == april
    same = await client.post(
        f"/api/v1/bookings/{booking['id']}/move", json={"session_id": april}, headers=headers
    )
    assert same.status == 422 and (await error_of(same))["field"] == "session_id"
    capacity = {
        row["name"]: (row["booked"], row["capacity"])
        for row in await (await client.get("/api/v1/bookings/capacity")).json()
    }
    assert capacity == {"March 1": (0, 1), "April 1": (1, 2), "Session a": (0, 0)}
    own = await (await client.get(f"/api/v1/applicants/{a.applicant_id}/bookings")).json()
    assert [b["session_id"] for b in own] == [april]

    removed = await client.delete(f"/api/v1/bookings/{booking['id']}", headers=headers)
    assert removed.status == 204
    profile = await (await client.get(f"/api/v1/applicants/{a.applicant_id}")).json()
    assert profile["status"] == "invited"
    assert (await client.delete(f"/api/v1/bookings/{booking['id']}", headers=headers)).status == 404


async def test_move_into_a_full_session_keeps_the_old_seat(
    client: TestClient, world: World
) -> None:
    a = world.a
    one = await new_session(client, a, "One", 1)
    two = await new_session(client, a, "Two", 1)
    headers = {"X-CSRF-Token": await login(client, a.director_email)}
    first = await client.post(
        f"/api/v1/sessions/{one}/bookings",
        json={"applicant_ids": [a.applicant_id]},
        headers=headers,
    )
    await client.post(
        f"/api/v1/sessions/{two}/bookings",
        json={"applicant_ids": [a.other_applicant_id]},
        headers=headers,
    )
    booking_id = (await first.json())[0]["id"]
    refused = await client.post(
        f"/api/v1/bookings/{booking_id}/move", json={"session_id": two}, headers=headers
    )
    assert refused.status == 409 and (await error_of(refused))["code"] == "session_full"
    kept = await (await client.get(f"/api/v1/sessions/{one}/bookings")).json()
    assert [b["id"] for b in kept["bookings"]] == [booking_id]


async def test_capacity_zero_and_bad_input(client: TestClient, world: World) -> None:
    headers = {"X-CSRF-Token": await login(client, world.a.coordinator_email)}
    zero = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/bookings",
        json={"applicant_ids": [world.a.applicant_id]},
        headers=headers,
    )
    assert zero.status == 409
    assert "set its capacity first" in (await error_of(zero))["message"]
    empty = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/bookings",
        json={"applicant_ids": []},
        headers=headers,
    )
    assert empty.status == 422 and (await error_of(empty))["field"] == "applicant_ids"
    no_body = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/bookings", json={}, headers=headers
    )
    assert no_body.status == 422


async def test_isolation(client: TestClient, world: World) -> None:
    a, b = world.a, world.b
    a_session = await new_session(client, a, "A big", 10)
    b_session = await new_session(client, b, "B big", 10)
    b_headers = {"X-CSRF-Token": await login(client, b.coordinator_email)}
    b_booking = (
        await (
            await client.post(
                f"/api/v1/sessions/{b_session}/bookings",
                json={"applicant_ids": [b.applicant_id]},
                headers=b_headers,
            )
        ).json()
    )[0]
    headers = {"X-CSRF-Token": await login(client, a.coordinator_email)}
    checks = [
        client.get(f"/api/v1/sessions/{b_session}/bookings"),
        client.post(
            f"/api/v1/sessions/{b_session}/bookings",
            json={"applicant_ids": [a.applicant_id]},
            headers=headers,
        ),
        client.post(
            f"/api/v1/sessions/{a_session}/bookings",
            json={"applicant_ids": [b.other_applicant_id]},
            headers=headers,
        ),
        client.post(
            f"/api/v1/bookings/{b_booking['id']}/move",
            json={"session_id": a_session},
            headers=headers,
        ),
        client.delete(f"/api/v1/bookings/{b_booking['id']}", headers=headers),
        client.get(f"/api/v1/applicants/{b.applicant_id}/bookings"),
    ]
    for pending in checks:
        response = await pending
        assert response.status == 404, response.url
        assert (await error_of(response))["code"] == "not_found"
    capacity = await (await client.get("/api/v1/bookings/capacity")).json()
    assert "B big" not in str(capacity)
    async with client.app[DB]() as db:
        b_applicant = await db.get(Applicant, b.applicant_id)
        assert b_applicant is not None and b_applicant.status == "scheduled"


async def test_interviewer_cannot_book(client: TestClient, world: World) -> None:
    headers = {"X-CSRF-Token": await login(client, world.a.interviewer_email)}
    response = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/bookings",
        json={"applicant_ids": [world.a.applicant_id]},
        headers=headers,
    )
    assert response.status == 403
