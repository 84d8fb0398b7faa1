"""Chromium, the coordinator's console through a day (issue 13, items 4 and 10): the broadcast
"To" list keeps one option per room at every round, the Scores column counts the scores owed
over every round so far and names who still owes them, and starting a day on another date
than the session's asks first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.clock import FakeClock
from rooms.models import InterviewSession
from scoring.models import Score
from tests.factories import PASSWORD, World
from tests.live.conftest import Day, grant
from tests.live.test_timetrack_live import two_rounds
from tests.utils import wait_for
from web.daytrack import DAYS
from web.keys import DB

pytestmark = pytest.mark.browser


async def open_console(browser: Any, live_server: Any, world: World, day: Day) -> Any:
    page = await browser.new_page()
    base = str(live_server.make_url("/")).rstrip("/")
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(world.a.coordinator_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    await page.goto(f"{base}/sessions/{day.session_id}/console")
    await page.locator("#console-grid tbody tr").first.wait_for()
    return page


async def to_options(page: Any) -> list[str]:
    options: list[str] = await page.locator("#broadcast-target option").all_inner_texts()
    return options


async def scores_of(page: Any, room_id: str) -> tuple[str, str, str]:
    """(submitted, owed, the visible text) of a room's Scores cell."""
    cell = page.locator(f'#console-grid tr[data-room="{room_id}"] td.scores')
    return (
        await cell.get_attribute("data-submitted") or "",
        await cell.get_attribute("data-owed") or "",
        await cell.inner_text(),
    )


async def wait_label(page: Any, text: str) -> None:
    await page.wait_for_function(
        "(text) => document.getElementById('phase-label').textContent.includes(text)", arg=text
    )


async def wait_owed(page: Any, room_id: str, submitted: int, owed: int) -> None:
    await page.wait_for_function(
        """([room, submitted, owed]) => {
          const cell = document.querySelector(`#console-grid tr[data-room="${room}"] td.scores`);
          return cell && cell.dataset.submitted === String(submitted)
            && cell.dataset.owed === String(owed);
        }""",
        arg=[room_id, submitted, owed],
    )


async def test_to_list_and_scores_through_the_rounds(
    browser: Any, live_server: Any, bots: Any, world: World, day: Day, clock: FakeClock
) -> None:
    await two_rounds(live_server.app, world, day)
    # The applicant attends (an absent applicant's interviews are no-shows: nothing is owed).
    applicant = bots(grant(world, day, "applicant"), "a")
    await applicant.connect()
    page = await open_console(browser, live_server, world, day)
    questions: list[str] = []

    async def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    expected = ["Everyone", "Room 1", "Room 2"]
    assert await to_options(page) == expected
    assert await scores_of(page, day.room1) == ("0", "0", "—")

    await page.get_by_role("button", name="Start the day").click()
    await wait_label(page, "round 1")
    # The session's date is the server's today: no question before starting.
    assert questions == []
    assert await to_options(page) == expected
    # Round 1 is under way: nothing is owed yet.
    assert (await scores_of(page, day.room1))[:2] == ("0", "0")

    runner = live_server.app[DAYS].runners[day.session_id]
    await page.get_by_role("button", name="Skip to next round").click()
    await wait_label(page, "round 2")
    await runner.settled()
    await wait_owed(page, day.room1, 0, 1)
    assert await to_options(page) == expected
    text = (await scores_of(page, day.room1))[2]
    assert text.startswith("0/1")
    assert "Int a owes R1" in text
    assert (await scores_of(page, day.room2))[:2] == ("0", "0")

    # The first interviewer submits round 1's score; the second round ends.
    async with live_server.app[DB]() as db, db.begin():
        db.add(
            Score(
                program_id=world.a.program_id,
                session_id=day.session_id,
                applicant_id=day.applicant,
                interviewer_id=day.interviewer1,
                form_id=world.a.form_id,
                status="submitted",
            )
        )
    await page.get_by_role("button", name="Skip to next round").click()
    await runner.settled()
    await wait_owed(page, day.room2, 0, 1)
    await wait_owed(page, day.room1, 1, 1)
    assert await to_options(page) == expected
    assert (await scores_of(page, day.room1))[2].startswith("1/1")
    assert "owes" not in (await scores_of(page, day.room1))[2]
    assert "Second Interviewer owes R2" in (await scores_of(page, day.room2))[2]
    # The coordinator sees which applicant is meant, on hover.
    owing = page.locator(f'#console-grid tr[data-room="{day.room2}"] .owing-list li')
    assert await owing.get_attribute("title") == "R2: Ann Applicant a"
    await wait_for(lambda: len(questions) == 2, within=5)
    assert questions == ["End this round now?", "End this round now?"]


async def test_starting_a_day_dated_weeks_ahead_asks_first(
    browser: Any, live_server: Any, world: World, day: Day, clock: FakeClock
) -> None:
    await two_rounds(live_server.app, world, day)
    async with live_server.app[DB]() as db, db.begin():
        session = await db.get(InterviewSession, day.session_id)
        assert session is not None
        session.date += timedelta(weeks=5)
        dated = session.date.isoformat()
    page = await open_console(browser, live_server, world, day)
    questions: list[str] = []
    answer = {"accept": False}

    async def reply(dialog: Any) -> None:
        questions.append(dialog.message)
        await (dialog.accept() if answer["accept"] else dialog.dismiss())

    page.on("dialog", reply)
    start = page.get_by_role("button", name="Start the day")
    await start.click()
    await wait_for(lambda: len(questions) == 1, within=5)
    assert dated in questions[0] and "2027-01-15" in questions[0], questions[0]
    # Declined: the day has not started.
    runner = live_server.app[DAYS].runners[day.session_id]
    await runner.settled()
    assert not runner.state.started
    assert await start.is_visible()
    assert await page.locator("#phase-label").inner_text() == "Not started"

    answer["accept"] = True
    await start.click()
    await wait_label(page, "round 1")
    assert len(questions) == 2
    assert runner.state.started
