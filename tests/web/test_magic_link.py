"""Applicants enter through a signed, expiring, revocable link and reach only their own things."""

from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from portal.auth import Auth
from portal.models import Applicant
from tests.factories import World
from web.keys import AUTH, DB


async def issue_link(client: TestClient, applicant_id: str) -> str:
    async with client.app[DB]() as db, db.begin():
        applicant = await db.get(Applicant, applicant_id)
        assert applicant is not None
        auth: Auth = client.app[AUTH]
        return await auth.issue_magic_link(db, applicant)


async def test_link_opens_the_applicants_own_page(client: TestClient, world: World) -> None:
    token = await issue_link(client, world.a.applicant_id)
    opened = await client.get(f"/a/{token}", allow_redirects=False)
    assert opened.status == 303 and opened.headers["Location"] == "/applicant"
    home = await client.get("/applicant")
    assert home.status == 200
    html = await home.text()
    assert "Applicant a" in html and "Program A" in html
    me = await (await client.get("/api/v1/me/applicant")).json()
    assert me["id"] == world.a.applicant_id


async def test_applicant_reaches_nothing_else(client: TestClient, world: World) -> None:
    token = await issue_link(client, world.a.applicant_id)
    await client.get(f"/a/{token}")
    for path in (
        f"/api/v1/applicants/{world.a.other_applicant_id}",
        f"/api/v1/applicants/{world.a.applicant_id}",
        "/api/v1/applicants",
        "/api/v1/staff",
        f"/api/v1/sessions/{world.a.session_id}",
    ):
        assert (await client.get(path)).status == 403, path
    dashboard = await client.get("/dashboard", allow_redirects=False)
    assert dashboard.status == 303 and dashboard.headers["Location"].startswith("/login")


async def test_expired_link_gets_a_clear_page(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    token = await issue_link(client, world.a.applicant_id)
    await clock.advance(31 * 86400)
    response = await client.get(f"/a/{token}", allow_redirects=False)
    assert response.status == 410
    html = await response.text()
    assert "This link has expired." in html and "Send me a new link" in html


async def test_tampered_link_is_refused(client: TestClient, world: World) -> None:
    token = await issue_link(client, world.a.applicant_id)
    response = await client.get(f"/a/{token[:-3]}xyz", allow_redirects=False)
    assert response.status == 400
    assert "not valid" in await response.text()
    assert (await client.get("/applicant", allow_redirects=False)).status == 303


async def test_revoked_link_is_refused(client: TestClient, world: World) -> None:
    token = await issue_link(client, world.a.applicant_id)
    async with client.app[DB]() as db, db.begin():
        applicant = await db.get(Applicant, world.a.applicant_id)
        assert applicant is not None
        assert await client.app[AUTH].revoke_magic_links(db, applicant) == 1
    response = await client.get(f"/a/{token}", allow_redirects=False)
    assert response.status == 410
    assert "no longer valid" in await response.text()
