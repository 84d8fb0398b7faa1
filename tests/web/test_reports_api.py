"""The reports API: counts per status, seats filled, rooms and interviewers; CSV exports."""

import csv
import io

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from portal.models import Applicant, Booking
from rooms.models import InterviewSession, Room
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB

Client = TestClient[web.Request, web.Application]


async def seed_bookings(client: Client, world: World) -> None:
    """Program A: capacity 4, two scheduled and one waitlisted applicant, a second empty room."""
    a = world.a
    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, a.session_id)
        assert session is not None
        session.capacity = 4
        third = Applicant(
            program_id=a.program_id,
            email="c@a.test",
            first_name="Cy",
            last_name="Third",
            status="waitlist",
        )
        db.add(third)
        db.add(Room(program_id=a.program_id, session_id=a.session_id, name="Room 2", position=1))
        await db.flush()
        for applicant_id, status in (
            (a.applicant_id, "scheduled"),
            (a.other_applicant_id, "scheduled"),
            (third.id, "waitlisted"),
        ):
            db.add(
                Booking(
                    program_id=a.program_id,
                    session_id=a.session_id,
                    applicant_id=applicant_id,
                    status=status,
                )
            )
        applicant = await db.get(Applicant, a.applicant_id)
        assert applicant is not None
        applicant.status = "scheduled"


async def test_season_report(client: Client, world: World) -> None:
    await seed_bookings(client, world)
    await login(client, world.a.coordinator_email)
    report = await (await client.get("/api/v1/reports/season")).json()
    counts = {c["status"]: c["count"] for c in report["applicants_by_status"]}
    assert counts == {
        "candidate": 0,
        "waitlist": 1,
        "invited": 1,
        "scheduled": 1,
        "declined": 0,
        "withdrawn": 0,
        "interviewed": 0,
        "no_show": 0,
    }
    assert report["applicant_total"] == 3
    (session,) = report["sessions"]
    assert session["name"] == "Session a"
    assert (session["capacity"], session["scheduled"], session["waitlisted"]) == (4, 2, 1)
    assert (session["open_seats"], session["percent_filled"]) == (2, 50.0)
    assert (session["rooms"], session["interviewers"]) == (2, 1)


async def test_session_report(client: Client, world: World) -> None:
    await seed_bookings(client, world)
    await login(client, world.a.coordinator_email)
    report = await (await client.get(f"/api/v1/reports/sessions/{world.a.session_id}")).json()
    counts = {c["status"]: c["count"] for c in report["applicants_by_status"] if c["count"]}
    assert counts == {"scheduled": 1, "invited": 1, "waitlist": 1}
    assert report["rooms"] == [
        {"room": "Room 1", "interviewers": ["Int a"]},
        {"room": "Room 2", "interviewers": []},
    ]


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_csv_exports(client: Client, world: World) -> None:
    await seed_bookings(client, world)
    await login(client, world.a.coordinator_email)
    season = await client.get("/api/v1/reports/season/applicants.csv")
    assert season.status == 200
    assert season.content_type == "text/csv"
    assert (
        season.headers["Content-Disposition"]
        == 'attachment; filename="season-applicants-by-status.csv"'
    )
    rows = parse(await season.text())
    assert rows[0] == ["status", "applicants", "percent"]
    assert ["invited", "1", "33.3"] in rows and len(rows) == 9

    sessions = parse(await (await client.get("/api/v1/reports/season/sessions.csv")).text())
    assert sessions[0][:6] == ["session", "date", "mode", "capacity", "scheduled", "waitlisted"]
    assert sessions[1] == [
        "Session a",
        "2027-01-15",
        "native",
        "4",
        "2",
        "1",
        "2",
        "50.0",
        "2",
        "1",
    ]

    base = f"/api/v1/reports/sessions/{world.a.session_id}"
    rooms = await client.get(f"{base}/rooms.csv")
    assert 'filename="session-session-a-rooms.csv"' in rooms.headers["Content-Disposition"]
    assert parse(await rooms.text()) == [
        ["room", "interviewer_count", "interviewers"],
        ["Room 1", "1", "Int a"],
        ["Room 2", "0", ""],
    ]
    applicants = parse(await (await client.get(f"{base}/applicants.csv")).text())
    assert ["scheduled", "1", "33.3"] in applicants


@pytest.mark.parametrize("suffix", ["", "/applicants.csv", "/rooms.csv"])
async def test_another_programs_session_is_not_found(
    client: Client, world: World, suffix: str
) -> None:
    await login(client, world.a.coordinator_email)
    response = await client.get(f"/api/v1/reports/sessions/{world.b.session_id}{suffix}")
    assert response.status == 404
    assert (await error_of(response))["code"] == "not_found"


async def test_the_season_holds_only_the_own_program(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    text = await (await client.get("/api/v1/reports/season/sessions.csv")).text()
    assert "Session a" in text and "Session b" not in text
    report = await (await client.get("/api/v1/reports/season")).json()
    assert report["applicant_total"] == 2


async def test_interviewers_cannot_read_reports(client: Client, world: World) -> None:
    await login(client, world.a.interviewer_email)
    assert (await client.get("/api/v1/reports/season")).status == 403
    assert (await client.get("/api/v1/reports/season/applicants.csv")).status == 403
