"""Debian's Chromium: the demo director logs in, sees the dashboard and switches role."""

from pathlib import Path
from typing import Any

import pytest

from tests.factories import PASSWORD, World
from tests.web.test_magic_link import issue_link

pytestmark = pytest.mark.browser


async def test_director_logs_in_and_switches_role(
    browser: Any, live_server: Any, world: World, artifacts: Path
) -> None:
    base = str(live_server.make_url("/"))
    page = await browser.new_page()
    await page.goto(base)
    assert page.url.endswith("/login")
    await page.get_by_label("Email").fill(world.a.director_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    heading = page.get_by_role("heading", level=1)
    assert await heading.inner_text() == "Dashboard"
    nav = page.get_by_role("navigation", name="Main")
    for label in (
        "Sessions",
        "Scoring Forms",
        "Applicants",
        "Scores & Ranks",
        "Meeting Rooms",
        "Staff",
        "Reports",
    ):
        assert await nav.get_by_role("link", name=label).count() == 1, label
    # Bars are sized by app.js from data-w (the CSP refuses style="" attributes).
    widths = await page.evaluate(
        "() => [...document.querySelectorAll('.bar[data-w]')]"
        ".map((bar) => [bar.dataset.w, bar.style.getPropertyValue('--w')])"
    )
    assert widths and all(style == f"{float(w):g}%" for w, style in widths), widths
    await page.screenshot(path=str(artifacts / "dashboard-director.png"), full_page=True)

    # The role switcher submits on change; acting as interviewer shows the interviewer's menu.
    await page.get_by_label("Acting as").select_option("interviewer")
    await page.wait_for_load_state("networkidle")
    assert "acting as" in (await page.locator("main").inner_text()).lower()
    assert (await page.locator(".badge-role").first.inner_text()).lower() == "interviewer"
    assert await nav.get_by_role("link", name="Applicants").count() == 0
    assert await page.get_by_role("heading", name="Your rooms").count() == 1
    await page.screenshot(path=str(artifacts / "dashboard-interviewer.png"), full_page=True)


async def test_applicant_without_a_zone_sees_times_in_their_browsers_zone(
    browser: Any, live_server: Any, client: Any, world: World
) -> None:
    context = await browser.new_context(timezone_id="Europe/Paris")
    page = await context.new_page()
    base = str(live_server.make_url("/")).rstrip("/")
    token = await issue_link(client, world.a.applicant_id)
    await page.goto(f"{base}/a/{token}")
    await page.wait_for_url("**/applicant")
    # app.js (no inline script) fills in the browser's zone beside the program's.
    own = page.locator(".js-own-zone")
    await own.wait_for(state="visible")
    assert (await own.inner_text()).strip() == "and in yours (Europe/Paris)"
    await context.close()


async def test_a_destructive_form_asks_first(browser: Any, live_server: Any, world: World) -> None:
    page = await browser.new_page()
    base = str(live_server.make_url("/")).rstrip("/")
    await page.goto(f"{base}/login?next=/sessions/{world.a.session_id}")
    await page.get_by_label("Email").fill(world.a.director_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"**/sessions/{world.a.session_id}")
    page.on("dialog", lambda dialog: dialog.dismiss())
    # data-confirm (app.js), not an inline handler: declining keeps the room.
    async with page.expect_event("dialog") as asked:
        await page.get_by_role("button", name="Remove Room 1").click()
    assert (await asked.value).message == "Remove Room 1?"
    await page.reload()
    assert await page.get_by_role("button", name="Remove Room 1").count() == 1
