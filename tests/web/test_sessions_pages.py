"""The session pages, driven as a browser would post them."""

import re

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.factories import World
from tests.web.helpers import login
from tests.web.test_sessions_api import add_interviewers


async def csrf_of(client: TestClient, path: str) -> str:
    html = await (await client.get(path)).text()
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


FORM = {
    "name": "March day",
    "date": "2027-03-03",
    "start_time": "09:00",
    "timezone": "America/Denver",
    "mode": "native",
    "rounds": "4",
    "interview_minutes": "15",
    "review_minutes": "5",
    "capacity": "4",
    "knock_minutes": "2",
    "break_after": "2",
    "break_minutes": "15",
}


async def test_create_and_show_a_session(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    csrf = await csrf_of(client, "/sessions/new")
    created = await client.post(
        "/sessions/new", data={**FORM, "csrf_token": csrf}, allow_redirects=False
    )
    assert created.status == 303
    page = await (await client.get(created.headers["Location"])).text()
    # 4 × (15 + 5) + 15 = 95 minutes.
    assert '<strong id="end-time">10:35</strong>' in page
    listing = await (await client.get("/sessions")).text()
    assert "March day" in listing and "09:00–10:35" in listing


async def test_validation_shown_next_to_the_field(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    csrf = await csrf_of(client, "/sessions/new")
    response = await client.post(
        "/sessions/new", data={**FORM, "timezone": "Nowhere/Land", "csrf_token": csrf}
    )
    assert response.status == 422
    html = await response.text()
    assert 'id="timezone-error"' in html and "is not a time zone" in html
    assert 'aria-invalid="true" aria-describedby="timezone-error"' in html
    assert 'value="March day"' in html  # what was typed is kept


async def test_room_without_interviewers_message(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    path = f"/sessions/{world.a.session_id}"
    csrf = await csrf_of(client, path)
    response = await client.post(
        path, data={"action": "add_room", "name": "Room 9", "csrf_token": csrf}
    )
    assert response.status == 422
    assert "Room 9 has no interviewers" in await response.text()
    (staff_id,) = await add_interviewers(client, world.a.program_id, 1)
    ok = await client.post(
        path,
        data={
            "action": "add_room",
            "name": "Room 9",
            "interviewer_ids": staff_id,
            "csrf_token": csrf,
        },
        allow_redirects=False,
    )
    assert ok.status == 303


async def test_instructions_upload_and_download(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    path = f"/sessions/{world.a.session_id}"
    csrf = await csrf_of(client, path)
    bad = FormData()
    bad.add_field("csrf_token", csrf)
    bad.add_field("file", b"MZ...", filename="tool.exe")
    refused = await client.post(path + "/instructions", data=bad)
    assert refused.status == 422
    assert "Upload a PDF, Word (.docx) or text file." in await refused.text()
    good = FormData()
    good.add_field("csrf_token", csrf)
    good.add_field(
        "file", b"%PDF-1.4 instructions", filename="day.pdf", content_type="application/pdf"
    )
    uploaded = await client.post(path + "/instructions", data=good, allow_redirects=False)
    assert uploaded.status == 303
    got = await client.get(path + "/instructions")
    assert got.status == 200 and await got.read() == b"%PDF-1.4 instructions"


async def test_other_programs_session_pages_are_404(client: TestClient, world: World) -> None:
    await login(client, world.a.coordinator_email)
    for suffix in ("", "/itinerary", "/instructions"):
        response = await client.get(f"/sessions/{world.b.session_id}{suffix}")
        assert response.status == 404, suffix


async def test_interviewer_reads_but_cannot_edit(client: TestClient, world: World) -> None:
    await login(client, world.a.interviewer_email)
    page = await client.get(f"/sessions/{world.a.session_id}")
    assert page.status == 200
    assert "Add a room" not in await page.text()
    assert (await client.get("/sessions/new")).status == 403
