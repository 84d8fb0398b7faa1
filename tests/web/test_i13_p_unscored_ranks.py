"""Applicants nobody has scored are listed after the ranked ones, with no rank (issue 13)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import Settings
from portal.models import Applicant
from rooms.models import Interview, Itinerary
from tests.conftest import make_settings
from tests.factories import World
from tests.web.helpers import login
from tests.web.test_scores_api import own_url, post, put, set_up_scoring
from web.keys import DB


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Both databases: the `client` and `world` fixtures build on these settings."""
    return make_settings(db_url, tmp_path)


async def one_scored_two_unscored(client: Any, world: World) -> None:
    """Bo is scored (submitted); Ann and Cy were interviewed but nobody scored them."""
    a = world.a
    ids = await set_up_scoring(client, world)
    async with client.app[DB]() as db, db.begin():
        cy = Applicant(
            program_id=a.program_id,
            email="applicant3@a.test",
            first_name="Cy",
            last_name="Applicant a",
            status="invited",
        )
        db.add(cy)
        await db.flush()
        itinerary_id = await db.scalar(
            select(Itinerary.id).where(Itinerary.session_id == a.session_id)
        )
        assert itinerary_id is not None
        db.add(
            Interview(
                program_id=a.program_id,
                itinerary_id=itinerary_id,
                session_id=a.session_id,
                room_id=a.room_id,
                round_number=3,
                applicant_id=cy.id,
            )
        )
    csrf = await login(client, a.interviewer_email)
    body = {"answers": {ids.communication: 4, ids.would_rank: True}, "revision": 1}
    response = await post(client, own_url(world, a.other_applicant_id) + "/submit", csrf, body)
    assert response.status == 200, await response.text()


def expect_unscored_last(entries: list[dict[str, Any]]) -> None:
    assert [(e["name"], e["rank"], e["scored"]) for e in entries] == [
        ("Bo Applicant a", 1, True),
        ("Ann Applicant a", None, False),
        ("Cy Applicant a", None, False),
    ]
    assert all("Not scored" in e["notes"] for e in entries[1:])
    assert entries[0]["notes"] == ""


async def test_unscored_applicants_get_no_rank_in_the_api_and_the_csv(
    client: Any, world: World
) -> None:
    await one_scored_two_unscored(client, world)
    csrf = await login(client, world.a.director_email)
    lists = await (await client.get("/api/v1/rank-lists")).json()
    main = lists[0]
    expect_unscored_last(main["entries"])
    expect_unscored_last(
        (await (await client.get(f"/api/v1/rank-lists/{main['id']}")).json())["entries"]
    )

    # A client that still sends everyone, unscored first, cannot rank them either.
    everyone = [e["applicant_id"] for e in main["entries"]]
    body = {"entries": [{"applicant_id": i} for i in reversed(everyone)]}
    response = await put(client, f"/api/v1/rank-lists/{main['id']}/order", csrf, body)
    assert response.status == 200, await response.text()
    expect_unscored_last((await response.json())["entries"])

    response = await client.get(f"/api/v1/rank-lists/{main['id']}/export.csv")
    assert response.status == 200
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert [(r[0], r[1], r[-1]) for r in rows[1:]] == [
        ("1", "Bo Applicant a", ""),
        ("", "Ann Applicant a", "Not scored"),
        ("", "Cy Applicant a", "Not scored"),
    ]


async def test_the_rank_list_page_lists_unscored_applicants_apart(
    client: Any, world: World
) -> None:
    await one_scored_two_unscored(client, world)
    await login(client, world.a.director_email)
    page = await client.get("/ranks/lists")
    assert page.status == 200
    html = await page.text()
    ranked, _, unscored = html.partition('aria-label="Not scored"')
    assert "Bo Applicant a" in ranked and "Ann Applicant a" not in ranked
    assert "Ann Applicant a" in unscored and "Cy Applicant a" in unscored
    assert ranked.count('class="rank-number"') == 1


async def test_an_applicant_who_missed_every_interview_is_listed_not_scored(
    client: Any, world: World
) -> None:
    """Cy never came (their one interview is a no-show): still on the list, unranked, and no
    interview counted for them."""
    await one_scored_two_unscored(client, world)
    async with client.app[DB]() as db, db.begin():
        cy = await db.scalar(select(Applicant).where(Applicant.first_name == "Cy"))
        assert cy is not None
        interview = await db.scalar(select(Interview).where(Interview.applicant_id == cy.id))
        assert interview is not None
        interview.status = "no_show"
    await login(client, world.a.director_email)
    main = (await (await client.get("/api/v1/rank-lists")).json())[0]
    expect_unscored_last(main["entries"])
    cy_entry = next(e for e in main["entries"] if e["name"] == "Cy Applicant a")
    assert cy_entry.get("interviews", 0) == 0
