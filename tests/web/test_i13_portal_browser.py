"""Chromium, with a real SMTP server: self-scheduling off, an applicant sends their choices,
the coordinator finds them on Scheduling → Waiting for a session and assigns their first
choice; the applicant gets the date by email and sees the seat and the session's meeting
room on their page (issue 13, items 6, 8 and 9)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from portal.models import Program
from rooms.models import InterviewSession, MeetingRoom
from tests.conftest import make_settings
from tests.factories import PASSWORD, build_world
from tests.portal.test_mail_smtp import SmtpServer, parts, smtp_server  # noqa: F401
from tests.services import free_port
from web.keys import DB

pytestmark = pytest.mark.browser


async def test_coordinator_assigns_a_waiting_applicant_who_is_told(
    browser: Any,
    aiohttp_server: Any,
    sqlite_url: str,
    tmp_path: Path,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    from web.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(sqlite_url, tmp_path, smtp_url=smtp_server.url, public_url=base)
    server = await aiohttp_server(
        create_app(settings, clock=FakeClock()), host="127.0.0.1", port=port
    )
    factory = server.app[DB]
    world = await build_world(factory)
    a = world.a
    async with factory() as db, db.begin():
        program = await db.get(Program, a.program_id)
        assert program is not None
        program.options = {"self_scheduling": False}
        sessions = {}
        for name, day in (("February day", date(2027, 2, 10)), ("March day", date(2027, 3, 10))):
            row = InterviewSession(
                program_id=a.program_id,
                name=name,
                date=day,
                start_time=time(8, 30),
                timezone="America/New_York",
                capacity=3,
                visible=True,
            )
            db.add(row)
            await db.flush()
            sessions[name] = row.id
        lunch = MeetingRoom(
            program_id=a.program_id,
            session_id=sessions["March day"],
            name="Lunch with residents",
            audience="applicants",
            starts_at=datetime(2027, 3, 10, 17, tzinfo=UTC),
            ends_at=datetime(2027, 3, 10, 18, tzinfo=UTC),
        )
        db.add(lunch)
        await db.flush()
        lunch_id = lunch.id

    applicant = await browser.new_page()
    await applicant.goto(f"{base}/a/{await magic_link(server, a.applicant_id)}")
    await applicant.goto(base + "/applicant/invitations")
    await applicant.get_by_label("First choice").select_option(value=sessions["March day"])
    await applicant.get_by_label("Second choice").select_option(value=sessions["February day"])
    await applicant.get_by_role("button", name="Confirm my choice").click()
    await applicant.get_by_text("The coordinator will assign your session").wait_for()

    staff = await browser.new_page()
    await staff.goto(base + "/login")
    await staff.get_by_label("Email").fill(a.coordinator_email)
    await staff.get_by_label("Password").fill(PASSWORD)
    await staff.get_by_role("button", name="Log in").click()
    await staff.wait_for_url("**/dashboard")
    await staff.goto(base + "/invitations/scheduling")
    row = staff.locator(f'tr[data-applicant="{a.applicant_id}"]')
    await row.get_by_text("applicant1@a.test", exact=True).wait_for()
    choices = await row.locator("ol.choices li").all_inner_texts()
    assert [c.split(" (")[0] for c in choices] == ["March day", "February day"]
    picker = row.get_by_label("Session for Ann Applicant a (applicant1@a.test)")
    assert await picker.input_value() == sessions["March day"]  # their first choice
    await row.get_by_role("button", name="Assign Ann Applicant a (applicant1@a.test)").click()
    await staff.get_by_text("Seat booked; the applicant is emailed").wait_for()
    assert await staff.locator(f'tr[data-applicant="{a.applicant_id}"]').count() == 0

    (message,) = await smtp_server.inbox.wait_for(1)
    assert message["To"] == "applicant1@a.test"
    text = parts(message)["text/plain"]
    assert "booked you for March day, Wednesday, March 10, 2027 at 08:30" in text
    assert f"{base}/live/meeting-rooms/{lunch_id}" in text
    assert "text/calendar" in parts(message)

    await applicant.goto(base + "/applicant")
    await applicant.get_by_role("heading", name="March day").wait_for()
    link = applicant.get_by_role("link", name="Lunch with residents")
    assert await link.get_attribute("href") == f"/live/meeting-rooms/{lunch_id}"


async def magic_link(server: Any, applicant_id: str) -> str:
    from portal.auth import Auth
    from portal.models import Applicant
    from web.keys import AUTH

    async with server.app[DB]() as db, db.begin():
        applicant = await db.get(Applicant, applicant_id)
        assert applicant is not None
        auth: Auth = server.app[AUTH]
        return await auth.issue_magic_link(db, applicant)
