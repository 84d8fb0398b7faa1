"""The email template page (issue 13, item 10): applicants of the same name are told apart in
"Preview with" by their email, and a long line in the preview wraps instead of widening the
page (Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from portal.models import Applicant
from tests.factories import PASSWORD, World, build_world
from tests.web.helpers import login
from web.keys import DB

LONG_LINE = "https://example.test/" + "a-very-long-path-segment/" * 60


async def add_namesake(factory: Any, world: World) -> None:
    """A second "Ann Applicant a", as happens in any large import."""
    async with factory() as db, db.begin():
        db.add(
            Applicant(
                program_id=world.a.program_id,
                email="ann.second@a.test",
                first_name="Ann",
                last_name="Applicant a",
                status="invited",
            )
        )


async def test_preview_with_shows_each_applicants_email(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    await add_namesake(client.app[DB], world)
    await login(client, world.a.coordinator_email)
    response = await client.get("/invitations/templates/invitation")
    assert response.status == 200
    html = await response.text()
    assert "Ann Applicant a (applicant1@a.test)</option>" in html
    assert "Ann Applicant a (ann.second@a.test)</option>" in html


@pytest.mark.browser
async def test_a_long_line_in_the_preview_does_not_widen_the_page(
    browser: Any, live_server: Any
) -> None:
    world = await build_world(live_server.app[DB])
    base = str(live_server.make_url("")).rstrip("/")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(world.a.coordinator_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    await page.goto(base + "/invitations/templates/confirmation")
    body = page.get_by_label("Message (plain text; the HTML part is made from it)")
    await body.fill(f"Dear {{{{ name }}}},\n\n{LONG_LINE}\n\nYour page: {{{{ link }}}}")
    await page.get_by_role("button", name="Preview", exact=True).click()
    await page.wait_for_url("**/invitations/templates/confirmation")
    await page.wait_for_function(
        """(tail) => {
            const text = document.getElementById('preview-text');
            return text !== null && text.textContent.includes(tail);
        }""",
        arg=LONG_LINE[-40:],
    )
    widths = await page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            view: document.documentElement.clientWidth,
            preview: document.getElementById('preview').getBoundingClientRect().right,
        })"""
    )
    assert widths["page"] <= widths["view"], widths
    assert widths["preview"] <= widths["view"], widths
