"""The scoring form as an interviewer meets it (issue 13, item 10): two comment boxes with one
name each, and the application PDF offered only when there is one (the API answers 204 No
Content otherwise, as docs/protocol.md says)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from scoring.models import ScoringItem
from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_browser_scoring import logged_in_page
from tests.web.test_people_pdfs_api import LIMITED, PDF, upload
from tests.web.test_scores_api import set_up_scoring
from web.keys import DB


async def test_no_pdf_is_204_not_an_error(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    a = world.a
    await set_up_scoring(client, world)  # the interviewer meets both applicants
    await login(client, a.coordinator_email)
    for kind in ("full", "limited"):
        response = await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/{kind}")
        assert response.status == 204, kind
        assert await response.read() == b""
    await login(client, a.interviewer_email)
    none = await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/limited")
    assert none.status == 204
    # Another program's applicant still answers like an unknown one.
    other = await client.get(f"/api/v1/applicants/{world.b.applicant_id}/pdf/limited")
    assert other.status == 404 and (await error_of(other))["code"] == "not_found"

    csrf = await login(client, a.coordinator_email)
    assert (await upload(client, a.applicant_id, "full", PDF, csrf)).status == 200
    full = await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/full")
    assert full.status == 200 and await full.read() == PDF
    # What the page asks: one byte is enough to know there is a file.
    probe = await client.get(
        f"/api/v1/applicants/{a.applicant_id}/pdf/full", headers={"Range": "bytes=0-0"}
    )
    assert probe.status == 206 and await probe.read() == PDF[:1]


@pytest.mark.browser
async def test_two_comment_boxes_have_two_names(
    browser: Any, live_server: Any, world: World, client: Any
) -> None:
    ids = await set_up_scoring(client, world)
    async with client.app[DB]() as db, db.begin():
        # The demo's form (and many real ones) calls its comment item "Comments".
        item = await db.get(ScoringItem, ids.notes)
        assert item is not None
        item.label = "Comments"
    base = str(live_server.make_url("/")).rstrip("/")
    page = await logged_in_page(await browser.new_context(), base, world.a.interviewer_email)
    await page.goto(f"{base}/scoring/{world.a.session_id}/{world.a.applicant_id}")
    panel = page.locator("[data-scoring-panel]")
    labels = await panel.locator("label[for]").all_inner_texts()
    boxes = [text for text in labels if "omment" in text]
    assert boxes == ["Comments", "Overall comments for the committee"], labels
    assert await panel.get_by_label("Comments", exact=True).count() == 1
    overall = panel.get_by_label("Overall comments for the committee", exact=True)
    assert await overall.get_attribute("name") == "comment"
    description = await overall.get_attribute("aria-describedby")
    assert "rank list" in await page.locator(f"#{description}").inner_text()


@pytest.mark.browser
async def test_the_embedded_panel_links_the_pdf_only_when_there_is_one(
    browser: Any, live_server: Any, world: World, client: Any
) -> None:
    a = world.a
    await set_up_scoring(client, world)
    base = str(live_server.make_url("/")).rstrip("/")
    page = await logged_in_page(await browser.new_context(), base, a.interviewer_email)
    embed = f"{base}/scoring/{a.session_id}/{a.applicant_id}?embed=1"
    await page.goto(embed)
    note = page.locator("[data-no-pdf]")
    await note.wait_for()
    assert await note.inner_text() == "No application PDF"
    assert await page.get_by_role("link", name="Application (PDF)").count() == 0

    csrf = await login(client, a.coordinator_email)
    assert (await upload(client, a.applicant_id, "limited", LIMITED, csrf)).status == 200
    await page.goto(embed)
    # The page's check has answered and left the link in place.
    await page.locator("a[data-pdf-checked]").wait_for()
    link = page.get_by_role("link", name="Application (PDF)")
    assert await link.count() == 1 and await note.count() == 0
    href = await link.get_attribute("href")
    assert href == f"/api/v1/applicants/{a.applicant_id}/pdf/limited"
