"""The reports pages: the season chart and tables, one session, and the CSV downloads."""

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.factories import World
from tests.web.helpers import login
from tests.web.test_reports_api import seed_bookings

Client = TestClient[web.Request, web.Application]


async def test_the_season_at_a_glance(client: Client, world: World) -> None:
    await seed_bookings(client, world)
    await login(client, world.a.coordinator_email)
    response = await client.get("/reports")
    assert response.status == 200
    html = await response.text()
    # The chart's numbers are text beside each bar.
    row = re.search(r'<th scope="row">invited</th>.*?</tr>', html, re.S)
    assert row is not None and ">1<" in row.group(0) and "33.3%" in row.group(0)
    assert 'aria-hidden="true"' in row.group(0)
    assert re.search(r'<th scope="row">Total</th><td></td><td class="num">3</td>', html)
    assert "50.0% filled" in html
    assert f'href="/reports/sessions/{world.a.session_id}"' in html
    assert 'href="/api/v1/reports/season/applicants.csv"' in html
    assert 'href="/api/v1/reports/season/sessions.csv"' in html
    assert "Session b" not in html


async def test_one_session(client: Client, world: World) -> None:
    await seed_bookings(client, world)
    await login(client, world.a.coordinator_email)
    html = await (await client.get(f"/reports/sessions/{world.a.session_id}")).text()
    assert "Report: Session a" in html
    assert '<span class="big-number">2</span> of 4 seats filled · 2 open · 1 waitlisted' in html
    assert "Int a" in html and "No interviewer yet" in html
    assert "2 rooms · 1 interviewer" in html
    assert f'href="/api/v1/reports/sessions/{world.a.session_id}/rooms.csv"' in html


async def test_the_csv_links_download_the_tables(client: Client, world: World) -> None:
    await seed_bookings(client, world)
    await login(client, world.a.coordinator_email)
    html = await (await client.get(f"/reports/sessions/{world.a.session_id}")).text()
    for link in re.findall(r'href="(/api/v1/reports/[^"]+\.csv)"', html):
        response = await client.get(link)
        assert response.status == 200 and response.content_type == "text/csv"
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    rooms = await (
        await client.get(f"/api/v1/reports/sessions/{world.a.session_id}/rooms.csv")
    ).text()
    assert rooms.splitlines()[1] == "Room 1,1,Int a"


async def test_an_empty_program_still_renders(client: Client, world: World) -> None:
    await login(client, world.b.coordinator_email)
    html = await (await client.get("/reports")).text()
    assert "No capacity set" in html and "Session b" in html


async def test_another_programs_session_is_not_found(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    assert (await client.get(f"/reports/sessions/{world.b.session_id}")).status == 404


async def test_interviewers_cannot_open_reports(client: Client, world: World) -> None:
    await login(client, world.a.interviewer_email)
    assert (await client.get("/reports", allow_redirects=False)).status == 403
