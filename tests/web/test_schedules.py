"""After publishing, each person sees their own schedule and the changes that affect them."""

from aiohttp.test_utils import TestClient

from portal.models import Applicant
from tests.factories import World
from tests.web.helpers import login
from tests.web.test_itinerary_api import three_room_session
from tests.web.test_magic_link import issue_link
from web.keys import DB


async def test_applicant_sees_itinerary_and_changes(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    day = await three_room_session(client, world, csrf)
    base = f"/api/v1/sessions/{day['id']}/itinerary"
    await client.post(base + "/generate", headers=headers)
    a, b, _ = day["applicants"]

    token = await issue_link(client, a)
    await client.post("/api/v1/auth/logout", headers=headers)
    await client.get(f"/a/{token}")
    before = await (await client.get("/applicant")).text()
    assert "will appear here once the program publishes it" in before

    await client.post("/api/v1/auth/logout", headers=headers)
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}
    await client.post(base + "/publish", headers=headers)
    await client.post(
        base + "/edit",
        headers=headers,
        json={"kind": "swap", "round": 2, "applicant_id": a, "other_applicant_id": b},
    )
    await client.post("/api/v1/auth/logout", headers=headers)
    await client.get(f"/a/{token}")
    html = await (await client.get("/applicant")).text()
    assert "Your schedule changed" in html
    assert "Round 2: App0 Booked moves from Room 2 to Room 3." in html
    assert "App1 Booked moves" not in html  # another applicant's change stays theirs
    assert "09:00" in html and "Room 3" in html


async def test_applicant_sees_no_other_program_or_applicant(
    client: TestClient, world: World
) -> None:
    async with client.app[DB]() as db:
        other = await db.get(Applicant, world.a.other_applicant_id)
        assert other is not None
    token = await issue_link(client, world.a.applicant_id)
    await client.get(f"/a/{token}")
    html = await (await client.get("/applicant")).text()
    assert other.email not in html and "Program B" not in html
