"""Chromium: the scoring panel never loses what an interviewer typed, online or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import select

from scoring.models import Score
from tests.factories import PASSWORD, World
from tests.web.test_scores_api import Scoring, set_up_scoring
from web.keys import DB

pytestmark = pytest.mark.browser


async def logged_in_page(context: Any, base: str, email: str) -> Any:
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    return page


async def stored_score(client: Any) -> Score | None:
    async with client.app[DB]() as db:
        found: Score | None = (await db.scalars(select(Score))).first()
        return found


async def wait_saved(page: Any) -> None:
    await page.wait_for_function(
        "() => document.querySelector('[data-save-state]').textContent.startsWith('Saved')"
    )


async def open_panel(page: Any, base: str, world: World, goto_ms: float = 30_000) -> Any:
    await page.goto(base + "/scoring", timeout=goto_ms)
    await page.get_by_role("link", name="Ann Applicant a").click()
    await page.wait_for_url(f"**/scoring/{world.a.session_id}/{world.a.applicant_id}")
    return page.locator("[data-scoring-panel]")


def rating(panel: Any, label: str, value: str) -> Any:
    return panel.get_by_role("group", name=label).get_by_label(value, exact=True)


async def test_changes_typed_offline_reach_the_server_when_back(
    browser: Any, live_server: Any, world: World, client: Any, artifacts: Path
) -> None:
    ids: Scoring = await set_up_scoring(client, world)
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context()
    page = await logged_in_page(context, base, world.a.interviewer_email)
    panel = await open_panel(page, base, world)
    assert await panel.get_by_text("Draft — not counted").is_visible()

    await rating(panel, "Communication", "4").check()
    await panel.get_by_label("Comments").fill("Thoughtful answers")
    await wait_saved(page)
    score = await stored_score(client)
    assert score is not None and score.answers == {ids.communication: 4}

    await context.set_offline(True)
    await rating(panel, "Judgement", "2").check()
    await panel.get_by_label("Notes").fill("Asked about research")
    await panel.get_by_label("Comments").fill("Thoughtful answers, some hesitation")
    await page.wait_for_function(
        "() => document.querySelector('[data-save-state]').textContent.startsWith('Offline')"
    )
    await page.screenshot(path=str(artifacts / "offline.png"), full_page=True)
    score = await stored_score(client)
    assert score is not None and score.comment == "Thoughtful answers"

    await context.set_offline(False)
    await wait_saved(page)
    await page.reload()
    panel = page.locator("[data-scoring-panel]")
    assert await rating(panel, "Judgement", "2").is_checked()
    assert await panel.get_by_label("Comments").input_value() == (
        "Thoughtful answers, some hesitation"
    )
    score = await stored_score(client)
    assert score is not None
    assert score.answers == {
        ids.communication: 4,
        ids.judgement: 2,
        ids.notes: "Asked about research",
    }
    assert score.comment == "Thoughtful answers, some hesitation"
    await context.close()


async def test_changes_left_unsent_in_a_closed_tab_are_sent_on_the_next_visit(
    browser: Any, live_server: Any, world: World, client: Any
) -> None:
    ids = await set_up_scoring(client, world)
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context()
    page = await logged_in_page(context, base, world.a.interviewer_email)
    panel = await open_panel(page, base, world)
    await rating(panel, "Communication", "5").check()
    await wait_saved(page)

    await context.set_offline(True)
    # Chromium's offline emulation can let a request through when it is applied under load;
    # refusing the page's API calls as well makes "nothing was sent" certain.
    await page.route("**/api/**", lambda route: route.abort())
    await rating(panel, "Communication", "3").check()
    await panel.get_by_role("group", name="Would rank").get_by_label("Yes").check()
    await panel.get_by_label("Comments").fill("Typed while the network was down")
    await page.close(run_before_unload=False)
    await context.set_offline(False)
    score = await stored_score(client)
    assert score is not None and score.answers == {ids.communication: 5}

    page = await context.new_page()
    try:
        panel = await open_panel(page, base, world, goto_ms=10_000)
    except PlaywrightTimeoutError:
        # Chromium's offline emulation, lifted under load, can hold the first navigation
        # (seen once in CI): the visit itself is what is tested, so it is made again.
        await page.close()
        page = await context.new_page()
        panel = await open_panel(page, base, world)
    await wait_saved(page)
    score = await stored_score(client)
    assert score is not None
    assert score.answers == {ids.communication: 3, ids.would_rank: True}
    assert score.comment == "Typed while the network was down"
    assert await panel.get_by_label("Comments").input_value() == (
        "Typed while the network was down"
    )
    await context.close()


async def test_submit_marks_each_missing_required_item(
    browser: Any, live_server: Any, world: World, client: Any, artifacts: Path
) -> None:
    ids = await set_up_scoring(client, world)
    base = str(live_server.make_url("/")).rstrip("/")
    context = await browser.new_context()
    page = await logged_in_page(context, base, world.a.interviewer_email)
    panel = await open_panel(page, base, world)
    await rating(panel, "Judgement", "3").check()
    await panel.get_by_role("button", name="Submit score").click()

    communication = panel.locator(f'[data-item="{ids.communication}"]')
    would_rank = panel.locator(f'[data-item="{ids.would_rank}"]')
    judgement = panel.locator(f'[data-item="{ids.judgement}"]')
    assert "Required" in await communication.locator(".field-error").inner_text()
    assert "Required" in await would_rank.locator(".field-error").inner_text()
    assert await judgement.locator(".field-error").is_hidden()
    assert await communication.get_attribute("aria-invalid") == "true"
    await page.screenshot(path=str(artifacts / "missing.png"), full_page=True)

    await rating(panel, "Communication", "4").check()
    assert await communication.locator(".field-error").is_hidden()
    await panel.get_by_role("group", name="Would rank").get_by_label("No").check()
    await panel.get_by_role("button", name="Submit score").click()
    await panel.get_by_text("Submitted — counted").wait_for()
    score = await stored_score(client)
    assert score is not None and score.status == "submitted"
    assert score.answers == {ids.communication: 4, ids.judgement: 3, ids.would_rank: False}
    await context.close()
