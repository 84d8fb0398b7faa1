"""The scores & ranks and scoring pages render, and page forms adjust scores."""

from __future__ import annotations

from typing import Any

from tests.factories import World
from tests.web.helpers import login
from tests.web.test_ranks_api import scored_world


async def test_the_pages_render_for_a_coordinator(client: Any, world: World) -> None:
    await scored_world(client, world)
    await login(client, world.a.coordinator_email)
    for url, expected in (
        ("/ranks", "interviewers disagree strongly"),
        ("/ranks?standardise=1", "Standardised"),
        ("/ranks/completion", "Every interview in a published itinerary has a submitted score"),
        ("/ranks/agreement", "alpha ="),
    ):
        response = await client.get(url)
        assert response.status == 200, url
        assert expected in await response.text(), url
    response = await client.get("/ranks/lists")
    assert response.status == 200 and "Revert to computed order" in await response.text()


async def test_the_interviewer_sees_their_applicants_and_no_ranks(
    client: Any, world: World
) -> None:
    await scored_world(client, world)
    await login(client, world.a.interviewer_email)
    response = await client.get("/scoring")
    assert response.status == 200
    text = await response.text()
    assert "Ann Applicant a" in text and "Every score is submitted" in text
    assert (await client.get("/ranks", allow_redirects=False)).status == 403


async def test_a_director_overrides_from_the_page_and_a_missing_reason_is_shown(
    client: Any, world: World
) -> None:
    await scored_world(client, world)
    csrf = await login(client, world.a.director_email)
    url = f"/ranks/applicants/{world.a.applicant_id}/adjust"
    response = await client.post(
        url, data={"csrf_token": csrf, "action": "override", "value": "9", "reason": ""}
    )
    assert response.status == 422
    assert "Write the reason" in await response.text()
    response = await client.post(
        url,
        data={"csrf_token": csrf, "action": "override", "value": "9", "reason": "Committee"},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get("/ranks")).text()
    assert "override: Committee" in page
