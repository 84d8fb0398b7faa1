"""Chromium against a real SMTP server: a director invites three applicants, one follows the
link in the email, picks a session, and the confirmation arrives with a calendar file."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from core.clock import FakeClock
from portal.models import Applicant, Program
from rooms.models import InterviewSession
from tests.conftest import make_settings
from tests.factories import PASSWORD, build_world
from tests.portal.test_mail_smtp import SmtpServer, parts, smtp_server  # noqa: F401
from tests.services import free_port
from web.keys import DB

pytestmark = pytest.mark.browser


async def test_invite_follow_link_book_and_get_confirmation(
    browser: Any,
    aiohttp_server: Any,
    sqlite_url: str,
    tmp_path: Path,
    smtp_server: SmtpServer,  # noqa: F811
    artifacts: Path,
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
        program.options = {"self_scheduling": True}
        db.add(
            Applicant(
                program_id=a.program_id,
                email="cy@a.test",
                first_name="Cy",
                last_name="Candidate",
                status="candidate",
            )
        )
        session = InterviewSession(
            program_id=a.program_id,
            name="February day",
            date=date(2027, 2, 10),
            start_time=time(8, 30),
            timezone="America/New_York",
            capacity=3,
            visible=True,
        )
        db.add(session)
        await db.flush()
        session_id = session.id

    page = await browser.new_page()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(a.director_email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/dashboard")
    await page.goto(base + "/invitations")
    for name in ("Ann Applicant a", "Bo Applicant a", "Cy Candidate"):
        await page.get_by_label(f"Invite {name}").check()
    await page.get_by_label("Answer by").fill("2027-02-01T17:00")
    await page.get_by_role("button", name="Send invitations").click()
    assert "3 invitations queued" in await page.locator("#sent-summary").inner_text()

    invitations = await smtp_server.inbox.wait_for(3)
    by_address = {m["To"]: m for m in invitations}
    assert set(by_address) == {"applicant1@a.test", "applicant2@a.test", "cy@a.test"}
    for address, name in (("applicant1@a.test", "Ann Applicant a"), ("cy@a.test", "Cy Candidate")):
        message = by_address[address]
        assert message["Subject"] == "Interview invitation: Program A"
        body = parts(message)
        assert f"Dear {name}," in body["text/plain"]
        assert "February 1, 2027 at 17:00 (America/New_York)" in body["text/plain"]
        assert re.search(re.escape(base) + r"/a/\S+", body["text/plain"])
        assert "<a href=" in body["text/html"]
        assert "TZID=America/New_York" in body["text/calendar"]
    link = re.search(re.escape(base) + r"/a/\S+", parts(by_address["cy@a.test"])["text/plain"])
    assert link is not None

    applicant_page = await (await browser.new_context()).new_page()
    await applicant_page.goto(link.group(0))
    await applicant_page.wait_for_url("**/applicant")
    tabs = applicant_page.get_by_role("navigation", name="Your pages")
    await tabs.get_by_role("link", name="Invitations").click()
    row = applicant_page.locator('tr[data-session="February day"]')
    assert "3 of 3 seats left" in await row.inner_text()
    await applicant_page.get_by_label("First choice").select_option(session_id)
    await applicant_page.get_by_role("button", name="Confirm my choice").click()
    await applicant_page.wait_for_url("**/applicant?notice=booked")
    assert "You are booked" in await applicant_page.get_by_role("status").first.inner_text()
    assert await applicant_page.get_by_role("heading", name="February day").count() == 1
    await applicant_page.screenshot(path=str(artifacts / "applicant-booked.png"), full_page=True)

    everything = await smtp_server.inbox.wait_for(4)
    [confirmation] = [m for m in everything if m["Subject"].startswith("Confirmed")]
    assert confirmation["To"] == "cy@a.test"
    body = parts(confirmation)
    assert "February day, Wednesday, February 10, 2027 at 08:30" in body["text/plain"]
    assert "DTSTART;TZID=America/New_York:20270210T083000" in body["text/calendar"]
