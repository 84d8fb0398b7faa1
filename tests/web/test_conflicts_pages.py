"""The conflicts-of-interest page: list, record (with errors in place), remove."""

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from rooms.models import ConflictOfInterest
from tests.factories import World
from tests.web.helpers import login
from web.keys import DB

Client = TestClient[web.Request, web.Application]


async def post(client: Client, path: str, data: dict[str, Any]) -> Any:
    return await client.post(path, data=data, allow_redirects=False)


async def count(client: Client) -> int:
    async with client.app[DB]() as db:
        return int(await db.scalar(select(func.count()).select_from(ConflictOfInterest)) or 0)


async def test_recording_and_removing_a_conflict(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    page = await (await client.get("/conflicts")).text()
    assert "No conflicts of interest recorded." in page
    assert "Applicant a, Ann" in page and "Int a (interviewer)" in page
    assert "Applicant b" not in page and "Int b" not in page

    data = {
        "csrf_token": csrf,
        "applicant_id": world.a.applicant_id,
        "staff_id": world.a.interviewer_id,
        "reason": "Research mentor",
    }
    added = await post(client, "/conflicts", data)
    assert added.status == 303 and added.headers["Location"] == "/conflicts?notice=added&together=0"
    html = await (await client.get(added.headers["Location"])).text()
    assert "Conflict of interest recorded." in html and "Research mentor" in html
    assert "already scheduled" not in html

    again = await post(client, "/conflicts", data)
    assert again.status == 409
    html = await again.text()
    assert "This conflict of interest is already recorded." in html
    assert re.search(r'id="conflict-staff_id"[^>]*aria-invalid="true"', html)

    conflict_id = re.search(r'action="/conflicts/([0-9a-f]+)/delete"', html)
    assert conflict_id is not None
    removed = await post(client, f"/conflicts/{conflict_id.group(1)}/delete", {"csrf_token": csrf})
    assert removed.headers["Location"] == "/conflicts?notice=removed"
    assert await count(client) == 0


async def test_missing_and_foreign_people_are_refused_in_place(
    client: Client, world: World
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    cases = [
        ({"applicant_id": ""}, "conflict-applicant_id", "Choose an applicant."),
        ({"staff_id": ""}, "conflict-staff_id", "Choose an interviewer."),
        ({"applicant_id": world.b.applicant_id}, "conflict-applicant_id", "No applicant with id"),
        ({"staff_id": world.b.interviewer_id}, "conflict-staff_id", "No staff member with id"),
        ({"reason": "x" * 1001}, "conflict-reason", "Keep the reason under 1000 characters."),
    ]
    for overrides, field_id, message in cases:
        data = {
            "csrf_token": csrf,
            "applicant_id": world.a.applicant_id,
            "staff_id": world.a.interviewer_id,
            **overrides,
        }
        response = await post(client, "/conflicts", data)
        html = await response.text()
        assert response.status in (404, 422), overrides
        assert message in html and "Nothing was saved." in html
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html), overrides
    assert await count(client) == 0


async def test_another_programs_conflict_cannot_be_removed(client: Client, world: World) -> None:
    async with client.app[DB]() as db, db.begin():
        foreign = ConflictOfInterest(
            program_id=world.b.program_id,
            applicant_id=world.b.applicant_id,
            staff_id=world.b.interviewer_id,
        )
        db.add(foreign)
        await db.flush()
        foreign_id = foreign.id
    csrf = await login(client, world.a.coordinator_email)
    assert "No conflicts of interest recorded." in await (await client.get("/conflicts")).text()
    response = await post(client, f"/conflicts/{foreign_id}/delete", {"csrf_token": csrf})
    assert response.status == 404
    assert await count(client) == 1


async def test_interviewers_cannot_open_the_page(client: Client, world: World) -> None:
    await login(client, world.a.interviewer_email)
    assert (await client.get("/conflicts", allow_redirects=False)).status == 403
