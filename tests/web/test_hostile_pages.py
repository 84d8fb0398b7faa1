"""Chromium: every string a person typed is shown as text, never run as markup.

Every user-controlled string we can reach (program, staff, applicants by hand and by CSV
import, session, rooms, meeting rooms, forms and their items, score comments, conflicts,
broadcasts) carries a payload that would set `window.__xss` if it became markup, and the
links carry `javascript:` URLs. One browser context per role opens every page that shows
them, the coordinator's console and the applicant's live day included, and checks that no
payload ran or became an element, that each one reads literally, and that the
Content-Security-Policy reported nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from core.clock import FakeClock
from portal.models import Applicant, Program, Staff
from rooms.models import ConflictOfInterest, InterviewSession, MeetingRoom, Room
from scoring.models import RankEntry, RankList, Score, ScoreOverride, ScoringForm, ScoringItem
from tests.factories import World
from tests.live.conftest import Day, day
from tests.live.test_browser_room import (
    applicant_page,
    base_url,
    live_port,
    live_server,
    settings,
    staff_page,
    wait_connected,
)
from tests.live.test_timetrack_live import two_rounds
from tests.web.helpers import login
from web.keys import DB
from web.live import HUB

pytestmark = pytest.mark.browser

__all__ = ["day", "live_port", "live_server", "settings"]  # fixtures this module runs with

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
JS_URL = "javascript:window.__xss=1"

PROGRAM = f"Prog {SVG}"
DIRECTOR = f"Dee {IMG}"
COORDINATOR = f"Coco {SCRIPT}"
INTERVIEWER = f"Ivy {SVG}"
SECOND_INTERVIEWER = f"Ike {IMG}"
ANN_LAST = f"Ann {SCRIPT}"
ANN = f"Ann {ANN_LAST}"
ANN_SCHOOL = f"School {IMG}"
BO_EMAIL = 'bo"><svg/onload=window.__xss=1>@a.test'
CARA = f"Cara {IMG}"
CARA_SCHOOL = f"Uni {SVG}"
SESSION = f"Day {IMG}"
ROOM1 = f"R1 {SCRIPT}"
ROOM2 = f"R2 {SVG}"
ROOM3 = f"R3 {IMG}"
MEETING = f"Meet {SCRIPT}"
FORM = f"Form {SVG}"
FORM_DESCRIPTION = f"About {SCRIPT}"
ITEM = f"Item {IMG}"
ITEM_HELP = f"Help {SCRIPT}"
COMMENT = f"Comment </script>{SCRIPT} {SVG}"  # also inside the panel's JSON block
CONFLICT = f"Knows {SCRIPT}"
BROADCAST = f"Hello {IMG}"
OVERRIDE = f"Because {SVG}"
RANK_LIST = f"Main {SCRIPT}"

# Records what the Content-Security-Policy refused, in every document of the context.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""

INSPECT = """() => {
  const urlAttributes = ["href", "src", "action", "formaction"];
  const executable = (s) => !s.type || s.type === "module" || s.type.includes("javascript");
  return {
    xss: window.__xss === undefined ? null : String(window.__xss),
    violations: window.__violations || [],
    injected: document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]').length,
    scripts: [...document.scripts].filter((s) => executable(s) && s.textContent.includes("__xss"))
      .length,
    scriptLinks: [...document.querySelectorAll("[href], [src], [action], [formaction]")]
      .filter((e) => urlAttributes.some((a) => /^\\s*javascript:/i.test(e.getAttribute(a) || "")))
      .length,
    text: document.body.innerText,
  };
}"""


async def seed(app: Any, client: Any, world: World, day: Day) -> dict[str, str]:
    """Markup in every string; returns the ids the pages need."""
    a = world.a
    async with app[DB]() as db, db.begin():
        program = await db.get(Program, a.program_id)
        assert program is not None
        program.name = PROGRAM
        names = {
            a.director_email: DIRECTOR,
            a.coordinator_email: COORDINATOR,
            a.interviewer_email: INTERVIEWER,
            "iv2@a.test": SECOND_INTERVIEWER,
        }
        for staff in await db.scalars(select(Staff).where(Staff.program_id == a.program_id)):
            staff.name = names.get(staff.email, staff.name)
        ann = await db.get(Applicant, a.applicant_id)
        bo = await db.get(Applicant, a.other_applicant_id)
        assert ann is not None and bo is not None
        ann.last_name, ann.medical_school = ANN_LAST, ANN_SCHOOL
        bo.email = BO_EMAIL
        session = await db.get(InterviewSession, day.session_id)
        assert session is not None
        session.name = SESSION
        for room_id, name in ((day.room1, ROOM1), (day.room2, ROOM2)):
            room = await db.get(Room, room_id)
            assert room is not None
            room.name = name
        db.add(
            Room(
                program_id=a.program_id,
                session_id=day.session_id,
                name=ROOM3,
                position=2,
                external_url=JS_URL,
            )
        )
        meeting = await db.get(MeetingRoom, a.meeting_room_id)
        assert meeting is not None
        meeting.name, meeting.external_url = MEETING, JS_URL
        form = await db.get(ScoringForm, a.form_id)
        assert form is not None
        form.name, form.description = FORM, FORM_DESCRIPTION
        item = ScoringItem(
            program_id=a.program_id,
            form_id=a.form_id,
            position=0,
            kind="comment",
            label=ITEM,
            help_text=ITEM_HELP,
        )
        db.add(item)
        await db.flush()
        db.add(
            Score(
                program_id=a.program_id,
                session_id=day.session_id,
                applicant_id=a.applicant_id,
                interviewer_id=a.interviewer_id,
                form_id=a.form_id,
                answers={item.id: COMMENT},
                comment=COMMENT,
            )
        )
        db.add(
            ScoreOverride(
                program_id=a.program_id, applicant_id=a.applicant_id, value=5, reason=OVERRIDE
            )
        )
        rank_list = RankList(program_id=a.program_id, name=RANK_LIST, is_main=True)
        db.add(rank_list)
        await db.flush()
        db.add(
            RankEntry(
                program_id=a.program_id,
                rank_list_id=rank_list.id,
                applicant_id=a.applicant_id,
                position=1,
            )
        )
        db.add(
            ConflictOfInterest(
                program_id=a.program_id,
                applicant_id=a.other_applicant_id,
                staff_id=a.interviewer_id,
                reason=CONFLICT,
            )
        )
    # An applicant the way the issue found it: from a CSV import through the API.
    csrf = await login(client, a.coordinator_email)
    form_data = aiohttp.FormData()
    csv = f'name,email,medical_school\n"{CARA.replace(chr(34), chr(34) * 2)} Doe",cara@a.test,'
    csv += f'"{CARA_SCHOOL.replace(chr(34), chr(34) * 2)}"\n'
    form_data.add_field("file", csv.encode(), filename="applicants.csv", content_type="text/csv")
    imported = await client.post(
        "/api/v1/applicants/import", data=form_data, headers={"X-CSRF-Token": csrf}
    )
    assert imported.status == 200, await imported.text()
    async with app[DB]() as db:
        cara = await db.scalar(select(Applicant).where(Applicant.email == "cara@a.test"))
    assert cara is not None and cara.first_name.startswith("Cara <img")
    return {"cara": cara.id}


async def inspect(page: Any, where: str, expected: Sequence[str]) -> list[str]:
    """What went wrong on the page now: an empty list when every payload stayed text."""
    seen = await page.evaluate(INSPECT)
    problems = [
        f"{where}: {what}"
        for what, bad in (
            ("a payload ran", seen["xss"] is not None),
            ("a payload became an element", seen["injected"]),
            ("a payload became a script", seen["scripts"]),
            ("a javascript: URL became a link", seen["scriptLinks"]),
        )
        if bad
    ]
    problems += [f"{where}: CSP refused {violation}" for violation in seen["violations"]]
    problems += [f"{where}: not shown as text: {t}" for t in expected if t not in seen["text"]]
    return problems


async def visit(page: Any, base: str, path: str, expected: Sequence[str]) -> list[str]:
    response = await page.goto(base + path)
    assert response is not None, path
    assert response.status == 200, f"{path}: {response.status}"
    return await inspect(page, path, expected)


async def test_no_stored_markup_runs_on_any_page(
    browser: Any,
    live_server: Any,
    client: Any,
    world: World,
    day: Day,
    clock: FakeClock,
) -> None:
    app = live_server.app
    await two_rounds(app, world, day)
    ids = await seed(app, client, world, day)
    a = world.a
    base = base_url(live_server)
    session, applicant = day.session_id, a.applicant_id

    # The director: every staff page, the console last (it runs the day for the others).
    director = await staff_page(browser, live_server, a.director_email, "/dashboard")
    await director.context.add_init_script(WATCH_VIOLATIONS)
    staff_pages: list[tuple[str, Sequence[str]]] = [
        ("/dashboard", [DIRECTOR]),
        ("/applicants", [ANN_LAST, CARA, BO_EMAIL]),
        (f"/applicants/{applicant}", [ANN_LAST, ANN_SCHOOL]),
        (f"/applicants/{ids['cara']}", [CARA, CARA_SCHOOL]),
        ("/staff", [DIRECTOR, COORDINATOR, INTERVIEWER, SECOND_INTERVIEWER]),
        ("/sessions", [SESSION]),
        (f"/sessions/{session}", [SESSION, ROOM1, ROOM2, ROOM3, JS_URL, INTERVIEWER, ANN]),
        (f"/sessions/{session}/itinerary", [ROOM1, ROOM2, ANN_LAST]),
        ("/forms", [FORM]),
        (f"/forms/{a.form_id}", [ITEM]),
        (f"/forms/{a.form_id}/preview", [ITEM, ITEM_HELP]),
        ("/meeting-rooms", [MEETING, JS_URL]),
        (f"/meeting-rooms/{a.meeting_room_id}", []),
        ("/conflicts", [CONFLICT, INTERVIEWER]),
        ("/ranks", [ANN_LAST, OVERRIDE]),
        ("/ranks/lists", [RANK_LIST, ANN_LAST]),
        ("/ranks/completion", []),
        ("/ranks/agreement", []),
        ("/reports", [SESSION]),
        (f"/reports/sessions/{session}", [ROOM1]),
        ("/invitations", [ANN_LAST]),
        ("/invitations/outbox", []),
        ("/invitations/scheduling", [SESSION]),
        ("/invitations/templates", []),
        ("/invitations/templates/invitation", []),
    ]
    problems: list[str] = []
    for path, expected in staff_pages:
        problems += await visit(director, base, path, expected)

    console = director
    problems += await visit(console, base, f"/sessions/{session}/console", [])
    grid = console.locator("#console-grid")
    await grid.locator("tbody tr").first.wait_for()
    await console.get_by_role("button", name="Start the day").click()
    await console.wait_for_function(
        "() => document.getElementById('phase-label').textContent.includes('round 1')"
    )
    await grid.locator("td.current.cell").first.wait_for()
    problems += await inspect(console, "console", [ROOM1, ROOM2, ROOM3, INTERVIEWER, ANN])

    # The applicant: their pages and the live day with the strip of rooms.
    person = await applicant_page(browser, live_server, client, applicant, "/applicant")
    await person.context.add_init_script(WATCH_VIOLATIONS)
    problems += await visit(person, base, "/applicant", [PROGRAM, SESSION])
    problems += await visit(person, base, "/applicant/invitations", [PROGRAM])
    problems += await visit(person, base, f"/live/meeting-rooms/{a.meeting_room_id}", [MEETING])
    problems += await visit(person, base, f"/live/sessions/{session}", [])
    await wait_connected(person)
    await person.locator("#day-strip li").first.wait_for()

    await console.get_by_label("Message").fill(BROADCAST)
    await console.get_by_role("button", name="Send").click()
    await person.wait_for_function(
        "() => document.getElementById('live-notice').innerText.includes('Hello')"
    )
    problems += await inspect(person, "live day", [ROOM1, ROOM2, DIRECTOR, BROADCAST])
    problems += await inspect(console, "console after the broadcast", [])

    # The interviewer: their scores and the scoring panel of the applicant.
    interviewer = await staff_page(browser, live_server, a.interviewer_email, "/scoring")
    await interviewer.context.add_init_script(WATCH_VIOLATIONS)
    problems += await visit(interviewer, base, "/scoring", [ANN_LAST, SESSION])
    problems += await visit(
        interviewer, base, f"/scoring/{session}/{applicant}", [ANN, SESSION, FORM, ITEM, ITEM_HELP]
    )
    assert await interviewer.locator("textarea").first.input_value() == COMMENT
    # Their live room: the day's side panel names the applicant and embeds the same panel.
    problems += await visit(interviewer, base, f"/live/sessions/{session}", [])
    await wait_connected(interviewer)
    await interviewer.locator("#side-applicant").filter(has_text="Ann").wait_for()
    panel = interviewer.frame_locator("iframe.side-frame")
    await panel.locator("textarea").first.wait_for()
    problems += await inspect(interviewer, "interviewer's room", [ANN, ROOM1])
    frame = next(f for f in interviewer.frames if "embed=1" in f.url)
    problems += await inspect(frame, "embedded scoring panel", [ANN, ITEM, ITEM_HELP])

    # A weak link: the applicant gets audio only, and both pages say so, by name, as text.
    app[HUB]._on_downlink(f"{session}/applicant:{applicant}", "audio_only", 120_000)
    await person.locator("#downlink-message").wait_for(state="visible")
    await interviewer.wait_for_function(
        "() => document.getElementById('live-banner').textContent.includes('cannot see you')"
    )
    problems += await inspect(person, "live day, audio only", [])
    problems += await inspect(interviewer, "interviewer's room, audio only", [ANN])
    assert not problems, "\n".join(problems)
