"""Generating, editing and publishing an itinerary through the API."""

from typing import Any

from aiohttp.test_utils import TestClient

from rooms.models import ConflictOfInterest, ItineraryChange
from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_sessions_api import SESSION, add_interviewers, book
from web.keys import DB


async def three_room_session(client: TestClient, world: World, csrf: str) -> dict[str, Any]:
    headers = {"X-CSRF-Token": csrf}
    session = await (await client.post("/api/v1/sessions", json=SESSION, headers=headers)).json()
    interviewers = await add_interviewers(client, world.a.program_id, 3)
    rooms = []
    for i, staff_id in enumerate(interviewers):
        response = await client.post(
            f"/api/v1/sessions/{session['id']}/rooms",
            json={"name": f"Room {i + 1}", "interviewer_ids": [staff_id]},
            headers=headers,
        )
        rooms.append((await response.json())["id"])
    applicants = await book(client, world.a.program_id, session["id"], 3)
    return {
        "id": session["id"],
        "rooms": rooms,
        "interviewers": interviewers,
        "applicants": applicants,
    }


def grid(itinerary: dict[str, Any]) -> dict[tuple[int, str], str]:
    return {(s["round"], s["room_id"]): s["applicant_id"] for s in itinerary["slots"]}


async def test_generate_edit_publish(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    base = f"/api/v1/sessions/{day['id']}/itinerary"
    assert (await client.get(base)).status == 404

    generated = await client.post(base + "/generate", headers=headers)
    assert generated.status == 201, await generated.text()
    itinerary = await generated.json()
    assert itinerary["status"] == "draft" and len(itinerary["slots"]) == 9
    cells = grid(itinerary)
    a, b, c = day["applicants"]
    r1, r2, r3 = day["rooms"]
    # The cyclic shift: applicant k starts in room k and moves one room on each round.
    assert [cells[(1, r)] for r in (r1, r2, r3)] == [a, b, c]
    assert [cells[(2, r)] for r in (r1, r2, r3)] == [c, a, b]

    published = await client.post(base + "/publish", headers=headers)
    assert (await published.json())["status"] == "published"
    again = await client.post(base + "/publish", headers=headers)
    assert again.status == 409

    swapped = await client.post(
        base + "/edit",
        headers=headers,
        json={"kind": "swap", "round": 2, "applicant_id": a, "other_applicant_id": b},
    )
    assert swapped.status == 200, await swapped.text()
    body = await swapped.json()
    cells = grid(body["itinerary"])
    # Round 2 is as asked; in a full rotation the two also trade the rounds that would
    # otherwise repeat a room, and nobody else moves.
    assert cells[(2, r2)] == b and cells[(2, r3)] == a
    assert [cells[(r, room)] for r in (1, 2, 3) for room in (r1, r2, r3)].count(c) == 3
    assert {s["room_id"] for s in body["itinerary"]["slots"] if s["applicant_id"] == a} == {
        r1,
        r2,
        r3,
    }
    applicant_messages = [ch["message"] for ch in body["changes"] if ch["applicant_id"]]
    assert "Round 2: App0 Booked moves from Room 2 to Room 3." in applicant_messages
    assert "Round 2: App1 Booked moves from Room 3 to Room 2." in applicant_messages
    assert {ch["staff_id"] for ch in body["changes"] if ch["staff_id"]} <= set(day["interviewers"])


async def test_rejected_edit_names_the_constraint(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    base = f"/api/v1/sessions/{day['id']}/itinerary"
    await client.post(base + "/generate", headers=headers)
    a = day["applicants"][0]
    # Applicant a is in room 1 in round 1: moving them to room 1 in round 2 repeats the room.
    response = await client.post(
        base + "/edit",
        headers=headers,
        json={"kind": "move", "round": 2, "applicant_id": a, "room_id": day["rooms"][0]},
    )
    assert response.status == 409
    error = await error_of(response)
    assert error["code"] in ("repeat_room", "room_double_booked")
    assert "App0 Booked" in error["message"]
    async with client.app[DB]() as db:
        assert not (await db.execute(ItineraryChange.__table__.select())).all()


async def test_conflicts_of_interest_are_never_scheduled(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    a = day["applicants"][0]
    async with client.app[DB]() as db, db.begin():
        db.add(
            ConflictOfInterest(
                program_id=world.a.program_id, applicant_id=a, staff_id=day["interviewers"][0]
            )
        )
    response = await client.post(
        f"/api/v1/sessions/{day['id']}/itinerary/generate", headers=headers
    )
    assert response.status == 201
    itinerary = await response.json()
    assert all(
        not (s["applicant_id"] == a and s["room_id"] == day["rooms"][0]) for s in itinerary["slots"]
    )


async def test_infeasible_itinerary_is_explained(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    a = day["applicants"][0]
    async with client.app[DB]() as db, db.begin():
        for staff_id in day["interviewers"]:
            db.add(
                ConflictOfInterest(program_id=world.a.program_id, applicant_id=a, staff_id=staff_id)
            )
    response = await client.post(
        f"/api/v1/sessions/{day['id']}/itinerary/generate", headers=headers
    )
    assert response.status == 422
    error = await error_of(response)
    assert error["code"] == "no_itinerary_exclusion"
    assert "App0 Booked" in error["message"]


async def test_no_bookings_no_itinerary(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.post(
        f"/api/v1/sessions/{world.a.session_id}/itinerary/generate", headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 422
    assert "Book applicants" in (await error_of(response))["message"]
