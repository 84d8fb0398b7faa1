"""Irreversible clicks ask first (issue 13 item 7), in Chromium: the applicant's "Cancel this
interview" and the coordinator's "Finalize". Declining changes nothing; accepting goes ahead."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal.models import Booking
from rooms.models import InterviewSession, Round
from tests.factories import World
from tests.live.test_browser_room import (
    applicant_page,
    live_port,
    live_server,
    settings,
    staff_page,
)
from tests.web.test_applicant_pages import post, setup
from web.keys import DB

pytestmark = pytest.mark.browser
__all__ = ["live_port", "live_server", "settings"]  # fixtures used by name


async def booking_status(app: Any) -> list[str]:
    async with app[DB]() as db:
        return list(await db.scalars(select(Booking.status)))


async def test_cancelling_an_interview_asks_first(
    browser: Any, live_server: Any, client: Any, world: World
) -> None:
    ids = await setup(client, world)
    booked = await post(client, action="choose", tab="invitations", first=ids["Roomy"])
    assert booked.status == 303
    page = await applicant_page(browser, live_server, client, world.a.applicant_id, "/applicant")
    asked: list[str] = []

    def decline(dialog: Any) -> Any:
        asked.append(dialog.message)
        return dialog.dismiss()

    page.on("dialog", decline)
    await page.get_by_role("button", name="Cancel this interview").click()
    assert asked == ["Cancel your interview in Roomy?"]
    assert await booking_status(live_server.app) == ["scheduled"]
    assert await page.get_by_role("button", name="Cancel this interview").is_visible()

    page.remove_listener("dialog", decline)
    page.on("dialog", lambda dialog: dialog.accept())
    async with page.expect_navigation():
        await page.get_by_role("button", name="Cancel this interview").click()
    assert "scheduled" not in await booking_status(live_server.app)


async def test_finalizing_a_session_asks_first(
    browser: Any, live_server: Any, world: World
) -> None:
    async with live_server.app[DB]() as db, db.begin():
        db.add(Round(program_id=world.a.program_id, session_id=world.a.session_id, number=1))
        db.add(
            Booking(
                program_id=world.a.program_id,
                session_id=world.a.session_id,
                applicant_id=world.a.applicant_id,
            )
        )
    page = await staff_page(
        browser, live_server, world.a.coordinator_email, "/invitations/scheduling"
    )
    async with live_server.app[DB]() as db:
        session = await db.get(InterviewSession, world.a.session_id)
        assert session is not None
        name = session.name
    button = page.get_by_role("button", name=f"Finalize {name}")
    asked: list[str] = []

    def decline(dialog: Any) -> Any:
        asked.append(dialog.message)
        return dialog.dismiss()

    page.on("dialog", decline)
    await button.click()
    assert asked == [f"Finalize {name}? Bookings will be locked."]
    async with live_server.app[DB]() as db:
        session = await db.get(InterviewSession, world.a.session_id)
        assert session is not None and session.finalized_at is None

    page.remove_listener("dialog", decline)
    page.on("dialog", lambda dialog: dialog.accept())
    async with page.expect_navigation():
        await button.click()
    async with live_server.app[DB]() as db:
        session = await db.get(InterviewSession, world.a.session_id)
        assert session is not None and session.finalized_at is not None, await page.inner_text(
            "main"
        )
