"""Sessions and rooms through the API: every validation message, copying, isolation."""

from typing import Any

from aiohttp.test_utils import TestClient

from portal.models import Applicant, Booking, Staff
from tests.factories import World, password_hash
from tests.web.helpers import error_of, login
from web.keys import DB

SESSION = {
    "name": "January A",
    "date": "2027-01-20",
    "start_time": "09:00",
    "timezone": "America/Chicago",
    "mode": "native",
    "rounds": 3,
    "interview_minutes": 20,
    "review_minutes": 5,
    "breaks": [{"after_round": 2, "minutes": 10}],
    "capacity": 3,
}


async def add_interviewers(client: TestClient, program_id: str, count: int) -> list[str]:
    ids = []
    async with client.app[DB]() as db, db.begin():
        for i in range(count):
            staff = Staff(
                program_id=program_id,
                email=f"iv{i}-{program_id}@x.test",
                name=f"Interviewer {i}",
                role="interviewer",
                password_hash=password_hash(),
            )
            db.add(staff)
            await db.flush()
            ids.append(staff.id)
    return ids


async def book(client: TestClient, program_id: str, session_id: str, count: int) -> list[str]:
    ids = []
    async with client.app[DB]() as db, db.begin():
        for i in range(count):
            applicant = Applicant(
                program_id=program_id,
                email=f"ap{i}-{session_id}@x.test",
                first_name=f"App{i}",
                last_name="Booked",
                status="scheduled",
            )
            db.add(applicant)
            await db.flush()
            db.add(
                Booking(
                    program_id=program_id,
                    session_id=session_id,
                    applicant_id=applicant.id,
                    position=i,
                )
            )
            ids.append(applicant.id)
    return ids


async def create(client: TestClient, csrf: str, **changes: Any) -> Any:
    return await client.post(
        "/api/v1/sessions", json={**SESSION, **changes}, headers={"X-CSRF-Token": csrf}
    )


async def test_create_session_computes_end_time(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await create(client, csrf)
    assert response.status == 201, await response.text()
    body = await response.json()
    # 3 × (20 + 5) + 10 = 85 minutes after 09:00.
    assert body["end_time"] == "10:25:00"
    assert body["ends_at"].startswith("2027-01-20T10:25:00-06:00")
    assert body["breaks"] == [{"after_round": 2, "minutes": 10}]
    assert body["rounds"] == 3 and body["booked"] == 0


async def test_session_validation_messages(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    cases = [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone"),
        ({"breaks": [{"after_round": 3, "minutes": 10}]}, "breaks", "not between two rounds"),
        ({"knock_minutes": 25}, "knock_minutes", "before the end"),
        ({"rounds": 0}, "rounds", "rounds"),
        ({"mode": "zoom"}, "mode", "mode"),
        ({"start_time": "23:30"}, "rounds", "past midnight"),
    ]
    for changes, field, text in cases:
        response = await create(client, csrf, **changes)
        assert response.status == 422, changes
        error = await error_of(response)
        assert error["field"] == field, (changes, error)
        assert text in error["message"], (changes, error)


async def test_rooms_and_their_validation(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    session = await (await create(client, csrf)).json()
    one, two = await add_interviewers(client, world.a.program_id, 2)
    url = f"/api/v1/sessions/{session['id']}/rooms"

    empty = await client.post(url, json={"name": "Room 1"}, headers=headers)
    assert empty.status == 422
    assert "has no interviewers" in (await error_of(empty))["message"]

    link = await client.post(
        url,
        json={"name": "Room 1", "interviewer_ids": [one], "external_url": "https://zoom.us/j/1"},
        headers=headers,
    )
    assert link.status == 422
    error = await error_of(link)
    assert error["field"] == "external_url" and "native session" in error["message"]

    room = await client.post(
        url,
        json={"name": "Room 1", "interviewer_ids": [one], "scoring_form_id": world.a.form_id},
        headers=headers,
    )
    assert room.status == 201
    twice = await client.post(
        url, json={"name": "Room 2", "interviewer_ids": [one]}, headers=headers
    )
    assert twice.status == 409
    error = await error_of(twice)
    assert error["code"] == "interviewer_double_booked"
    assert "Interviewer 0 is in two rooms at once" in error["message"]

    foreign_form = await client.post(
        url,
        json={"name": "Room 2", "interviewer_ids": [two], "scoring_form_id": world.b.form_id},
        headers=headers,
    )
    assert foreign_form.status == 422
    assert (await error_of(foreign_form))["field"] == "scoring_form_id"

    foreign_staff = await client.post(
        url, json={"name": "Room 2", "interviewer_ids": [world.b.interviewer_id]}, headers=headers
    )
    assert foreign_staff.status == 422
    detail = await (await client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert [r["name"] for r in detail["rooms"]] == ["Room 1"]  # nothing half-written


async def test_overlapping_sessions_share_no_interviewer(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    (one,) = await add_interviewers(client, world.a.program_id, 1)
    first = await (await create(client, csrf)).json()
    second = await (await create(client, csrf, name="January B", start_time="10:00")).json()
    ok = await client.post(
        f"/api/v1/sessions/{first['id']}/rooms",
        json={"name": "R", "interviewer_ids": [one]},
        headers=headers,
    )
    assert ok.status == 201
    clash = await client.post(
        f"/api/v1/sessions/{second['id']}/rooms",
        json={"name": "R", "interviewer_ids": [one]},
        headers=headers,
    )
    assert clash.status == 409
    error = await error_of(clash)
    assert error["code"] == "interviewer_overlap" and "January A" in error["message"]
    later = await (await create(client, csrf, name="Afternoon", start_time="13:00")).json()
    fine = await client.post(
        f"/api/v1/sessions/{later['id']}/rooms",
        json={"name": "R", "interviewer_ids": [one]},
        headers=headers,
    )
    assert fine.status == 201


async def test_native_mode_refused_while_a_room_has_a_link(
    client: TestClient, world: World
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    (one,) = await add_interviewers(client, world.a.program_id, 1)
    session = await (await create(client, csrf, mode="external")).json()
    await client.post(
        f"/api/v1/sessions/{session['id']}/rooms",
        json={"name": "R", "interviewer_ids": [one], "external_url": "https://zoom.us/j/1"},
        headers=headers,
    )
    back = await client.put(
        f"/api/v1/sessions/{session['id']}", json={**SESSION, "mode": "native"}, headers=headers
    )
    assert back.status == 422
    assert "external link" in (await error_of(back))["message"]


async def test_capacity_below_booked_is_refused(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    session = await (await create(client, csrf)).json()
    await book(client, world.a.program_id, session["id"], 3)
    response = await client.put(
        f"/api/v1/sessions/{session['id']}",
        json={**SESSION, "capacity": 2},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 422
    error = await error_of(response)
    assert error["field"] == "capacity"
    assert "below the 3 applicants already booked" in error["message"]
    delete = await client.delete(
        f"/api/v1/sessions/{session['id']}", headers={"X-CSRF-Token": csrf}
    )
    assert delete.status == 409


async def test_copy_to_other_dates(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    (one,) = await add_interviewers(client, world.a.program_id, 1)
    session = await (await create(client, csrf)).json()
    await client.post(
        f"/api/v1/sessions/{session['id']}/rooms",
        json={"name": "Room 1", "interviewer_ids": [one]},
        headers=headers,
    )
    await book(client, world.a.program_id, session["id"], 2)
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/copy",
        json={"dates": ["2027-01-27", "2027-02-03"]},
        headers=headers,
    )
    assert response.status == 201, await response.text()
    copies = await response.json()
    assert [c["date"] for c in copies] == ["2027-01-27", "2027-02-03"]
    for c in copies:
        assert c["end_time"] == "10:25:00" and c["booked"] == 0
        assert [r["interviewer_ids"] for r in c["rooms"]] == [[one]]
    same_day = await client.post(
        f"/api/v1/sessions/{session['id']}/copy", json={"dates": ["2027-01-20"]}, headers=headers
    )
    assert same_day.status == 422


async def test_sessions_are_program_scoped(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    b_session = f"/api/v1/sessions/{world.b.session_id}"
    for method, path, body in [
        ("GET", b_session, None),
        ("PUT", b_session, SESSION),
        ("DELETE", b_session, None),
        ("POST", b_session + "/rooms", {"name": "x", "interviewer_ids": [world.a.interviewer_id]}),
        ("POST", b_session + "/copy", {"dates": ["2027-05-01"]}),
        ("GET", b_session + "/itinerary", None),
        ("POST", b_session + "/itinerary/generate", None),
        ("PUT", f"/api/v1/rooms/{world.b.room_id}", {"name": "x", "interviewer_ids": []}),
        ("DELETE", f"/api/v1/rooms/{world.b.room_id}", None),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status == 404, (method, path, response.status)
    listed = await (await client.get("/api/v1/sessions")).json()
    assert world.b.session_id not in {s["id"] for s in listed}


async def test_interviewer_cannot_change_sessions(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    assert (await create(client, csrf)).status == 403
    assert (await client.get("/api/v1/sessions")).status == 200


async def test_a_finalized_sessions_bookings_are_locked(client: TestClient, world: World) -> None:
    from datetime import UTC, datetime

    from rooms.models import InterviewSession

    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    session = await (await create(client, csrf)).json()
    (booked,) = await book(client, world.a.program_id, session["id"], 1)
    async with client.app[DB]() as db, db.begin():
        row = await db.get(InterviewSession, session["id"])
        assert row is not None
        row.finalized_at = datetime.now(UTC)
    more = await client.post(
        f"/api/v1/sessions/{session['id']}/bookings",
        json={"applicant_ids": [world.a.applicant_id]},
        headers=headers,
    )
    assert more.status == 409
    assert (await error_of(more))["code"] == "session_finalized"
    listed = await (await client.get(f"/api/v1/applicants/{booked}/bookings")).json()
    gone = await client.delete(f"/api/v1/bookings/{listed[0]['id']}", headers=headers)
    assert gone.status == 409
