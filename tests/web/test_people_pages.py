"""The Staff and Applicants pages, driven like a browser without JavaScript."""

from __future__ import annotations

import re
from datetime import date, time

import aiohttp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from portal.models import Applicant, Booking, Staff
from rooms.models import InterviewSession
from tests.factories import World
from tests.web.helpers import login
from web.keys import DB

PDF = b"%PDF-1.5\n%%EOF\n"


def csv_form(csrf: str, text: str, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf)
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", text.encode(), filename="file.csv", content_type="text/csv")
    return form


async def page(client: TestClient, path: str, status: int = 200) -> str:  # type: ignore[type-arg]
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, body[:2000]
    return body


async def set_capacity(client: TestClient, session_id: str, capacity: int) -> None:  # type: ignore[type-arg]
    async with client.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, session_id)
        assert session is not None
        session.capacity = capacity


# Staff -------------------------------------------------------------------------------------


async def test_staff_page_lists_and_adds(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    html = await page(client, "/staff")
    assert "coordinator@a.test" in html and "@b.test" not in html
    assert "Who can do what" in html and "<code>staff.set_director</code>" in html
    assert 'name="csrf_token"' in html and 'for="staff-email"' in html

    form = {"csrf_token": csrf, "name": "Dr Added", "email": "added@a.test", "role": "interviewer"}
    added = await client.post("/staff", data=form, allow_redirects=False)
    assert added.status == 303 and added.headers["Location"] == "/staff?notice=added"
    html = await page(client, "/staff?notice=added")
    assert 'role="status"' in html and "Staff member added." in html
    assert "added@a.test" in html and "no password yet" in html

    form = {**form, "email": "gen@a.test", "generate_password": "on"}
    generated = await client.post("/staff", data=form, allow_redirects=False)
    assert generated.status == 201
    shown = re.search(r'class="one-time-password">([^<]+)<', await generated.text())
    assert shown is not None
    assert (
        await client.post(
            "/login", data={"email": "gen@a.test", "password": shown[1]}, allow_redirects=False
        )
    ).status == 303


async def test_staff_form_errors_are_shown_next_to_the_field(
    client: TestClient, world: World
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    form = {"csrf_token": csrf, "name": "X", "email": "not-an-email", "role": "interviewer"}
    response = await client.post("/staff", data=form)
    assert response.status == 422
    html = await response.text()
    assert 'aria-invalid="true" aria-describedby="staff-email-error"' in html
    assert "Bad email &#39;not-an-email&#39;." in html
    assert 'value="not-an-email"' in html
    # A coordinator is not offered the director role.
    assert '<option value="director"' not in html


async def test_staff_csv_import_page(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    bad = "name,email,role\nA,a1@a.test,interviewer\nB,bad,interviewer\nC,c@a.test,boss\n"
    response = await client.post("/staff/import", data=csv_form(csrf, bad))
    assert response.status == 422
    html = await response.text()
    assert 'role="alert"' in html and "Problems in the file (2)" in html
    assert '<td class="num">3</td><td>email</td><td>bad email &#39;bad&#39;</td>' in html
    assert '<td class="num">4</td><td>role</td>' in html
    assert "a1@a.test" not in html.split("Problems in the file")[0]
    good = "name,email,role\nA,a1@a.test,interviewer\nB,b1@a.test,coordinator\n"
    done = await client.post("/staff/import", data=csv_form(csrf, good), allow_redirects=False)
    assert done.status == 303
    html = await page(client, done.headers["Location"])
    assert "Staff imported from the file. (2)" in html and "b1@a.test" in html


async def test_deactivate_from_the_page(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.director_email)
    async with client.app[DB]() as db:
        interviewer = await db.scalar(select(Staff).where(Staff.email == world.a.interviewer_email))
        director = await db.scalar(select(Staff).where(Staff.email == world.a.director_email))
    assert interviewer is not None and director is not None
    off = await client.post(
        f"/staff/{interviewer.id}/active",
        data={"csrf_token": csrf, "active": "0"},
        allow_redirects=False,
    )
    assert off.status == 303
    html = await page(client, off.headers["Location"])
    assert "Deactivated" in html and "Reactivate" in html
    own = await client.post(
        f"/staff/{director.id}/active", data={"csrf_token": csrf, "active": "0"}
    )
    assert own.status == 409 and "You cannot deactivate your own account." in await own.text()


async def test_interviewer_cannot_open_people_pages(client: TestClient, world: World) -> None:
    await login(client, world.a.interviewer_email)
    assert (await client.get("/staff")).status == 403
    assert (await client.get("/applicants")).status == 403


# Applicants --------------------------------------------------------------------------------


async def test_list_search_filter_and_pages(client: TestClient, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        db.add_all(
            Applicant(
                program_id=world.a.program_id,
                email=f"p{i:04d}@a.test",
                first_name=f"Pat{i:04d}",
                last_name="Many",
                status="candidate",
                medical_school="Big State" if i == 7 else None,
            )
            for i in range(2000)
        )
    await login(client, world.a.coordinator_email)
    html = await page(client, "/applicants")
    assert "2002 applicants" in html and "Page 1 of 41" in html
    assert html.count('name="applicant_ids"') == 50
    assert "@b.test" not in html
    second = await page(client, "/applicants?page=2&sort=name")
    assert "Page 2 of 41" in second and 'rel="prev"' in second
    by_status = await page(client, "/applicants?q=pat&sort=status&order=desc")
    assert 'aria-sort="descending"><a href="?q=pat&amp;sort=status&amp;order=asc"' in by_status
    assert 'href="?q=pat&amp;sort=name&amp;order=asc"' in by_status
    found = await page(client, "/applicants?q=big+state")
    assert "p0007@a.test" in found and found.count('name="applicant_ids"') == 1
    invited = await page(client, "/applicants?status=invited")
    assert "applicant1@a.test" in invited and "p0001@a.test" not in invited
    assert "Applicant b" not in await page(client, "/applicants?q=applicant")
    none = await page(client, "/applicants?q=nobody-at-all")
    assert "No applicants match." in none


async def test_bulk_status_and_assign(client: TestClient, world: World) -> None:
    a = world.a
    await set_capacity(client, a.session_id, 1)
    csrf = await login(client, a.coordinator_email)
    ids = [a.applicant_id, a.other_applicant_id]
    form = [("csrf_token", csrf), ("action", "status"), ("status", "waitlist"), ("back", "q=ann")]
    form += [("applicant_ids", i) for i in ids]
    done = await client.post("/applicants/bulk", data=form, allow_redirects=False)
    assert done.status == 303 and done.headers["Location"].startswith("/applicants?q=ann&")
    assert "Status changed. (2)" in await page(client, done.headers["Location"])

    form = [("csrf_token", csrf), ("action", "assign"), ("session_id", a.session_id)]
    form += [("applicant_ids", i) for i in ids]
    full = await client.post("/applicants/bulk", data=form)
    assert full.status == 409
    html = await full.text()
    assert "Session a is full: 0 of 1 seats are taken and 2 more seats" in html
    assert f'value="{a.applicant_id}" id="sel-{a.applicant_id}" checked' in html
    form = [("csrf_token", csrf), ("action", "assign"), ("session_id", a.session_id)]
    form += [("applicant_ids", a.applicant_id)]
    booked = await client.post("/applicants/bulk", data=form, allow_redirects=False)
    assert booked.status == 303
    html = await page(client, f"/applicants?session={a.session_id}")
    assert "Ann" in html and "Bo" not in html and "1 / 1 booked · full" in html


async def test_import_page_reports_and_merges(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    assert "first_name" in await page(client, "/applicants/import")
    bad = "name,email\nGood Person,good@a.test\n,nameless@a.test\nBad Mail,bad@\n"
    response = await client.post("/applicants/import", data=csv_form(csrf, bad))
    assert response.status == 422
    html = await response.text()
    assert "Nothing was imported" in html and "Problems in the file (2)" in html
    assert '<td class="num">3</td><td>name</td><td>missing name</td>' in html
    assert '<td class="num">4</td><td>email</td>' in html
    good = "name,email,medical_school\nGood Person,good@a.test,\nAnn Again,APPLICANT1@a.test,Yale\n"
    done = await client.post("/applicants/import", data=csv_form(csrf, good), allow_redirects=False)
    assert done.status == 303
    html = await page(client, done.headers["Location"])
    assert "Import finished." in html and "1 created, 1 updated" in html


async def test_profile_page(client: TestClient, world: World) -> None:
    a = world.a
    await set_capacity(client, a.session_id, 5)
    csrf = await login(client, a.coordinator_email)
    path = f"/applicants/{a.applicant_id}"
    html = await page(client, path)
    assert "applicant1@a.test" in html and "Not booked into a session." in html
    assert "not uploaded" in html

    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "full")
    form.add_field("file", b"not a pdf", filename="x.pdf", content_type="application/pdf")
    refused = await client.post(f"{path}/pdf", data=form)
    assert refused.status == 422 and "The file is not a PDF." in await refused.text()
    form = aiohttp.FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("kind", "full")
    form.add_field("file", PDF, filename="x.pdf", content_type="application/pdf")
    uploaded = await client.post(f"{path}/pdf", data=form, allow_redirects=False)
    assert uploaded.status == 303

    booked = await client.post(
        f"{path}/book", data={"csrf_token": csrf, "session_id": a.session_id}, allow_redirects=False
    )
    assert booked.status == 303
    html = await page(client, f"{path}?notice=booked")
    assert "Booked into the session." in html and "Open the full PDF" in html
    assert "(1/5 booked)" in html and "has a booking; remove it before deleting" in html
    blocked = await client.post(f"{path}/delete", data={"csrf_token": csrf})
    assert blocked.status == 409 and "remove the booking first" in await blocked.text()

    async with client.app[DB]() as db:
        booking = await db.scalar(select(Booking).where(Booking.applicant_id == a.applicant_id))
    assert booking is not None
    removed = await client.post(
        f"{path}/bookings/{booking.id}/remove", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert removed.status == 303
    deleted = await client.post(f"{path}/delete", data={"csrf_token": csrf}, allow_redirects=False)
    assert deleted.status == 303 and deleted.headers["Location"] == "/applicants?notice=deleted"
    assert (await client.get(path)).status == 404


async def test_profile_of_another_program_is_not_found(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    assert (await client.get(f"/applicants/{world.b.applicant_id}")).status == 404
    response = await client.post(
        f"/applicants/{world.b.applicant_id}/status",
        data={"csrf_token": csrf, "status": "declined"},
    )
    assert response.status == 404
    async with client.app[DB]() as db:
        b_applicant = await db.get(Applicant, world.b.applicant_id)
    assert b_applicant is not None and b_applicant.status == "invited"


async def test_move_between_sessions_on_the_profile(client: TestClient, world: World) -> None:
    a = world.a
    await set_capacity(client, a.session_id, 2)
    async with client.app[DB]() as db, db.begin():
        later = InterviewSession(
            program_id=a.program_id,
            name="Later",
            date=date(2027, 4, 1),
            start_time=time(9),
            timezone="UTC",
            capacity=1,
        )
        db.add(later)
        await db.flush()
        db.add(
            Booking(program_id=a.program_id, session_id=a.session_id, applicant_id=a.applicant_id)
        )
        await db.flush()
        later_id = later.id
        booking = await db.scalar(select(Booking))
        assert booking is not None
        booking_id = booking.id
    csrf = await login(client, a.director_email)
    path = f"/applicants/{a.applicant_id}"
    moved = await client.post(
        f"{path}/bookings/{booking_id}/move",
        data={"csrf_token": csrf, "session_id": later_id},
        allow_redirects=False,
    )
    assert moved.status == 303
    html = await page(client, moved.headers["Location"])
    assert "Booking moved." in html and "Later" in html and "(1/1 booked)" in html
