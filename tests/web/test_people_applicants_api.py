"""Applicants through the API: CSV import, search and paging, status, delete, isolation."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from portal.models import Applicant, AuditEntry, Booking
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB

BAD_FILE = (
    "first_name,last_name,email,status,timezone\n"
    "Good,Row,good@new.test,,\n"
    "Nameless,,,invited,\n"
    ",,x@new.test,,\n"
    "Dup,Licate,GOOD@new.test,,\n"
    "Bad,Status,bs@new.test,asleep,\n"
    "Bad,Zone,bz@new.test,,Moon/Dark_Side\n"
)


async def headers_for(client: TestClient, email: str) -> dict[str, str]:  # type: ignore[type-arg]
    return {"X-CSRF-Token": await login(client, email)}


async def applicant_count(client: TestClient) -> int:  # type: ignore[type-arg]
    async with client.app[DB]() as db:
        return len(list(await db.scalars(select(Applicant.id))))


async def add_many(client: TestClient, program_id: str, count: int) -> None:  # type: ignore[type-arg]
    async with client.app[DB]() as db, db.begin():
        db.add_all(
            Applicant(
                program_id=program_id,
                email=f"bulk{i:04d}@a.test",
                first_name=f"First{i:04d}",
                last_name=f"Last{i:04d}",
                status="candidate" if i % 2 else "invited",
                medical_school="State U" if i % 10 == 0 else "Other U",
            )
            for i in range(count)
        )


async def test_bad_file_reports_every_line_and_imports_nothing(
    client: TestClient, world: World
) -> None:
    headers = await headers_for(client, world.a.coordinator_email)
    before = await applicant_count(client)
    response = await client.post("/api/v1/applicants/import", data=BAD_FILE, headers=headers)
    assert response.status == 422
    error = await error_of(response)
    assert error["code"] == "csv_invalid" and error["field"] == "file"
    assert [(p["line"], p["field"], p["reason"]) for p in error["problems"]] == [
        (3, "email", "missing email"),
        (4, "name", "missing name"),
        (5, "email", "duplicate email good@new.test (also on line 2)"),
        (
            6,
            "status",
            "bad status 'asleep' (use candidate, waitlist, invited, scheduled, declined, "
            "withdrawn, interviewed, no_show)",
        ),
        (7, "timezone", "unknown timezone 'Moon/Dark_Side' (use a name like America/New_York)"),
    ]
    assert "Nothing was imported: the file has 5 problems" in error["message"]
    assert await applicant_count(client) == before


async def test_clean_file_with_duplicates_merges(client: TestClient, world: World) -> None:
    headers = await headers_for(client, world.a.coordinator_email)
    text = (
        "name,email,medical_school,aamc_id,phone,timezone,status\n"
        '"Applicant a, Ann",APPLICANT1@A.TEST,Johns Hopkins,12345678,,America/Chicago,\n'
        "Cara New,cara@new.test,State U,,+1 555 0100,,candidate\n"
        "Bo Changed,applicant2@a.test,,,,,waitlist\n"
    )
    form = aiohttp.FormData()
    form.add_field("file", text.encode(), filename="applicants.csv", content_type="text/csv")
    response = await client.post("/api/v1/applicants/import", data=form, headers=headers)
    assert response.status == 200, await response.text()
    assert await response.json() == {"created": 1, "updated": 2, "unchanged": 0, "total": 3}
    async with client.app[DB]() as db:
        ann = await db.get(Applicant, world.a.applicant_id)
        bo = await db.get(Applicant, world.a.other_applicant_id)
        a_rows = list(
            await db.scalars(select(Applicant).where(Applicant.program_id == world.a.program_id))
        )
        b_ann = await db.get(Applicant, world.b.applicant_id)
        status_audit = list(
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "applicant.status"))
        )
    assert ann is not None and bo is not None and b_ann is not None
    assert (ann.email, ann.medical_school, ann.aamc_id, ann.timezone) == (
        "applicant1@a.test",
        "Johns Hopkins",
        "12345678",
        "America/Chicago",
    )
    assert ann.status == "invited"  # an empty cell keeps what we know
    assert (bo.first_name, bo.last_name, bo.status) == ("Bo", "Changed", "waitlist")
    assert len(a_rows) == 3
    assert b_ann.medical_school is None  # the same address in program B is another person
    assert [(e.details["old"], e.details["new"]) for e in status_audit] == [("invited", "waitlist")]
    again = await client.post("/api/v1/applicants/import", data=text, headers=headers)
    assert (await again.json())["unchanged"] == 3


async def test_search_filter_sort_and_isolation(client: TestClient, world: World) -> None:
    await add_many(client, world.a.program_id, 30)
    await headers_for(client, world.a.coordinator_email)

    async def emails(**params: Any) -> list[str]:
        response = await client.get("/api/v1/applicants", params=params)
        assert response.status == 200, await response.text()
        return [row["email"] for row in await response.json()]

    assert await emails(q="first0007") == ["bulk0007@a.test"]
    assert await emails(q="ann applicant") == ["applicant1@a.test"]
    assert len(await emails(q="state u")) == 3
    assert await emails(q="applicant", sort="name") == ["applicant1@a.test", "applicant2@a.test"]
    assert all("@b.test" not in e for e in await emails(q="@", page_size=500))
    assert await emails(q="b.test") == []
    invited = await emails(status="invited", page_size=500)
    assert len(invited) == 15 + 2
    assert (await emails(sort="name", order="desc"))[0] == "bulk0029@a.test"
    by_status = await emails(sort="status", page_size=500)
    assert by_status.index("bulk0001@a.test") < by_status.index("bulk0000@a.test")
    created = await emails(sort="created", order="desc", page_size=500)
    assert len(created) == 32
    bad = await client.get("/api/v1/applicants", params={"status": "sleeping"})
    assert bad.status == 422 and (await error_of(bad))["field"] == "status"
    bad_size = await client.get("/api/v1/applicants", params={"page_size": "5000"})
    assert bad_size.status == 422 and (await error_of(bad_size))["field"] == "page_size"


async def test_filter_by_session(client: TestClient, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=world.a.program_id,
                session_id=world.a.session_id,
                applicant_id=world.a.applicant_id,
            )
        )
    await headers_for(client, world.a.coordinator_email)
    booked = await client.get("/api/v1/applicants", params={"session_id": world.a.session_id})
    assert [a["id"] for a in await booked.json()] == [world.a.applicant_id]
    unbooked = await client.get("/api/v1/applicants", params={"session_id": "none"})
    assert [a["id"] for a in await unbooked.json()] == [world.a.other_applicant_id]
    foreign = await client.get("/api/v1/applicants", params={"session_id": world.b.session_id})
    assert await foreign.json() == []


async def test_two_thousand_applicants_paginate(client: TestClient, world: World) -> None:
    await add_many(client, world.a.program_id, 2000)
    await headers_for(client, world.a.coordinator_email)
    first = await client.get("/api/v1/applicants")
    assert first.status == 200
    assert len(await first.json()) == 50
    assert first.headers["X-Total-Count"] == "2002"
    assert first.headers["X-Pages"] == "41"
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    last = await client.get("/api/v1/applicants", params={"page": "41"})
    assert len(await last.json()) == 2 and "Link" not in last.headers
    pages = [
        [a["id"] for a in await (await client.get(f"/api/v1/applicants?page={n}")).json()]
        for n in (1, 2, 3)
    ]
    assert len({i for page in pages for i in page}) == 150  # no row on two pages


async def test_status_one_and_many(client: TestClient, world: World) -> None:
    headers = await headers_for(client, world.a.coordinator_email)
    one = await client.post(
        f"/api/v1/applicants/{world.a.applicant_id}/status",
        json={"status": "declined"},
        headers=headers,
    )
    assert one.status == 200 and (await one.json())["status"] == "declined"
    bad = await client.post(
        f"/api/v1/applicants/{world.a.applicant_id}/status",
        json={"status": "asleep"},
        headers=headers,
    )
    assert bad.status == 422 and (await error_of(bad))["field"] == "status"
    ids = [world.a.applicant_id, world.a.other_applicant_id]
    many = await client.post(
        "/api/v1/applicants/status",
        json={"applicant_ids": ids, "status": "declined"},
        headers=headers,
    )
    assert await many.json() == {"changed": 1, "unchanged": 1}
    mixed = await client.post(
        "/api/v1/applicants/status",
        json={"applicant_ids": [world.a.applicant_id, world.b.applicant_id], "status": "waitlist"},
        headers=headers,
    )
    assert mixed.status == 404
    empty = await client.post(
        "/api/v1/applicants/status",
        json={"applicant_ids": [], "status": "waitlist"},
        headers=headers,
    )
    assert empty.status == 422 and (await error_of(empty))["field"] == "applicant_ids"
    async with client.app[DB]() as db:
        ann = await db.get(Applicant, world.a.applicant_id)
        b_ann = await db.get(Applicant, world.b.applicant_id)
        entries = list(
            await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "applicant.status")
                .order_by(AuditEntry.at)
            )
        )
    assert ann is not None and ann.status == "declined"  # the mixed request wrote nothing
    assert b_ann is not None and b_ann.status == "invited"
    assert sorted((e.object_id, e.details["old"], e.details["new"]) for e in entries) == sorted(
        [
            (world.a.applicant_id, "invited", "declined"),
            (world.a.other_applicant_id, "invited", "declined"),
        ]
    )


async def test_delete(client: TestClient, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=world.a.program_id,
                session_id=world.a.session_id,
                applicant_id=world.a.applicant_id,
            )
        )
    headers = await headers_for(client, world.a.coordinator_email)
    booked = await client.delete(f"/api/v1/applicants/{world.a.applicant_id}", headers=headers)
    assert booked.status == 409
    error = await error_of(booked)
    assert error["code"] == "has_booking" and "remove the booking first" in error["message"]
    foreign = await client.delete(
        f"/api/v1/applicants/{world.b.other_applicant_id}", headers=headers
    )
    assert foreign.status == 404
    gone = await client.delete(f"/api/v1/applicants/{world.a.other_applicant_id}", headers=headers)
    assert gone.status == 204
    assert (await client.get(f"/api/v1/applicants/{world.a.other_applicant_id}")).status == 404
    async with client.app[DB]() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "applicant.delete"))
        assert entry is not None and entry.details["email"] == "applicant2@a.test"
        assert await db.get(Applicant, world.b.other_applicant_id) is not None


async def test_interviewer_cannot_list_or_change(client: TestClient, world: World) -> None:
    headers = await headers_for(client, world.a.interviewer_email)
    assert (await client.get("/api/v1/applicants")).status == 403
    response = await client.post(
        "/api/v1/applicants/import", data="name,email\nA B,ab@x.test\n", headers=headers
    )
    assert response.status == 403
