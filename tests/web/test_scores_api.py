"""Scores through the API: autosave with revisions, submit, lock, and who may see what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from portal.models import Applicant, AuditEntry, Staff
from rooms.models import Interview, Itinerary, RoomInterviewer
from scoring.models import Score, ScoringItem
from tests.factories import PASSWORD, World, password_hash
from tests.web.helpers import error_of, login
from web.keys import AUTH, DB


@dataclass
class Scoring:
    """Program A's room 1 with a form of four items and a published itinerary."""

    communication: str
    judgement: str
    would_rank: str
    notes: str
    second_interviewer_email: str
    second_interviewer_id: str


async def set_up_scoring(client: TestClient, world: World) -> Scoring:  # type: ignore[type-arg]
    a = world.a
    async with client.app[DB]() as db, db.begin():
        items = [
            ScoringItem(program_id=a.program_id, form_id=a.form_id, position=0, kind="rating",
                        label="Communication", scale_min=1, scale_max=5, weight=2.0,
                        required=True),
            ScoringItem(program_id=a.program_id, form_id=a.form_id, position=1, kind="rating",
                        label="Judgement", scale_min=1, scale_max=5, weight=1.0, required=False),
            ScoringItem(program_id=a.program_id, form_id=a.form_id, position=2, kind="yes_no",
                        label="Would rank", weight=0.0, required=True),
            ScoringItem(program_id=a.program_id, form_id=a.form_id, position=3, kind="comment",
                        label="Notes", weight=0.0, required=False),
        ]  # fmt: skip
        db.add_all(items)
        second = Staff(
            program_id=a.program_id,
            email="interviewer2@a.test",
            name="Int Two",
            role="interviewer",
            password_hash=password_hash(),
        )
        db.add(second)
        await db.flush()
        db.add(RoomInterviewer(program_id=a.program_id, room_id=a.room_id, staff_id=second.id))
        itinerary = Itinerary(
            program_id=a.program_id,
            session_id=a.session_id,
            status="published",
            published_at=datetime(2027, 1, 1, tzinfo=UTC),
        )
        db.add(itinerary)
        await db.flush()
        for number, applicant_id in enumerate((a.applicant_id, a.other_applicant_id), start=1):
            db.add(
                Interview(
                    program_id=a.program_id,
                    itinerary_id=itinerary.id,
                    session_id=a.session_id,
                    room_id=a.room_id,
                    round_number=number,
                    applicant_id=applicant_id,
                )
            )
    return Scoring(items[0].id, items[1].id, items[2].id, items[3].id, second.email, second.id)


def own_url(world: World, applicant_id: str | None = None) -> str:
    applicant = applicant_id or world.a.applicant_id
    return f"/api/v1/sessions/{world.a.session_id}/applicants/{applicant}/score"


async def put(client: Any, url: str, csrf: str, body: dict[str, Any]) -> Any:
    return await client.put(url, json=body, headers={"X-CSRF-Token": csrf})


async def post(client: Any, url: str, csrf: str, body: dict[str, Any]) -> Any:
    return await client.post(url, json=body, headers={"X-CSRF-Token": csrf})


async def test_the_panel_shows_the_rooms_form_and_an_empty_draft(client: Any, world: World) -> None:
    ids = await set_up_scoring(client, world)
    await login(client, world.a.interviewer_email)
    response = await client.get(own_url(world))
    assert response.status == 200
    panel = await response.json()
    assert [i["id"] for i in panel["form"]["items"]] == [
        ids.communication,
        ids.judgement,
        ids.would_rank,
        ids.notes,
    ]
    assert panel["score"]["id"] is None and panel["score"]["revision"] == 0
    assert panel["score"]["status"] == "draft" and panel["locked"] is False


async def test_a_draft_is_saved_and_an_older_revision_never_overwrites_a_newer_one(
    client: Any, world: World
) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, world.a.interviewer_email)
    newer = {"answers": {ids.communication: 4, ids.notes: "clear"}, "comment": "ok", "revision": 3}
    response = await put(client, own_url(world), csrf, newer)
    assert response.status == 200
    assert (await response.json())["applied"] is True

    older = {"answers": {ids.communication: 1}, "comment": "old", "revision": 2}
    response = await put(client, own_url(world), csrf, older)
    body = await response.json()
    assert response.status == 200 and body["applied"] is False
    assert body["score"]["answers"] == {ids.communication: 4, ids.notes: "clear"}
    assert body["score"]["revision"] == 3 and body["score"]["comment"] == "ok"
    # Weight 2 on 4 of 1..5 (0.75) and nothing else rated: 1 + 0.75 × 9 on the 1–10 range.
    assert abs(body["score"]["value"] - 7.75) < 1e-9


async def test_answers_that_do_not_fit_the_form_are_refused_with_the_item_named(
    client: Any, world: World
) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, world.a.interviewer_email)
    for answers, bad in (
        ({ids.communication: 6}, ids.communication),
        ({ids.would_rank: "maybe"}, ids.would_rank),
        ({"not-an-item": 1}, "not-an-item"),
    ):
        response = await put(client, own_url(world), csrf, {"answers": answers, "revision": 1})
        assert response.status == 422
        assert (await error_of(response))["field"] == f"answers.{bad}"


async def test_submit_names_every_missing_required_item(client: Any, world: World) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, world.a.interviewer_email)
    response = await post(
        client, own_url(world) + "/submit", csrf, {"answers": {ids.judgement: 3}, "revision": 1}
    )
    assert response.status == 422
    error = await error_of(response)
    assert error["code"] == "missing_required"
    assert error["missing"] == [ids.communication, ids.would_rank]

    complete = {"answers": {ids.communication: 5, ids.would_rank: True}, "revision": 2}
    response = await post(client, own_url(world) + "/submit", csrf, complete)
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "submitted" and body["submitted_at"] is not None


async def test_a_submitted_score_stays_counted_when_changed_and_locking_freezes_it(
    client: Any, world: World
) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, world.a.interviewer_email)
    answers = {ids.communication: 5, ids.would_rank: True}
    await post(client, own_url(world) + "/submit", csrf, {"answers": answers, "revision": 1})
    response = await put(
        client, own_url(world), csrf, {"answers": {**answers, ids.communication: 3}, "revision": 2}
    )
    assert (await response.json())["score"]["status"] == "submitted"

    coordinator = await login(client, world.a.coordinator_email)
    lock_url = f"/api/v1/sessions/{world.a.session_id}/scoring-lock"
    response = await post(client, lock_url, coordinator, {"locked": True})
    assert response.status == 200 and (await response.json())["locked"] is True
    async with client.app[DB]() as db:
        actions = (await db.scalars(select(AuditEntry.action))).all()
    assert "scores.lock" in actions

    csrf = await login(client, world.a.interviewer_email)
    response = await put(client, own_url(world), csrf, {"answers": answers, "revision": 3})
    assert response.status == 409
    assert (await error_of(response))["code"] == "scoring_locked"
    response = await post(client, own_url(world) + "/submit", csrf, {"revision": 4})
    assert response.status == 409
    panel = await (await client.get(own_url(world))).json()
    assert panel["locked"] is True and panel["score"]["answers"][ids.communication] == 3


async def test_only_directors_and_coordinators_lock_scoring(client: Any, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    response = await post(
        client, f"/api/v1/sessions/{world.a.session_id}/scoring-lock", csrf, {"locked": True}
    )
    assert response.status == 403


async def test_an_interviewer_never_reaches_another_interviewers_score(
    client: Any, world: World
) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, ids.second_interviewer_email, PASSWORD)
    await put(client, own_url(world), csrf, {"answers": {ids.communication: 2}, "revision": 1})
    async with client.app[DB]() as db:
        theirs = (await db.scalars(select(Score))).one()

    csrf = await login(client, world.a.interviewer_email)
    assert (await client.get(f"/api/v1/scores/{theirs.id}")).status == 404
    response = await put(
        client, f"/api/v1/scores/{theirs.id}", csrf, {"answers": {}, "revision": 9}
    )
    assert response.status == 404
    listed = await (await client.get("/api/v1/scores")).json()
    assert listed == []
    # Their own panel for the same applicant is a separate, empty sheet.
    assert (await (await client.get(own_url(world))).json())["score"]["id"] is None

    await login(client, world.a.coordinator_email)
    assert (await client.get(f"/api/v1/scores/{theirs.id}")).status == 200
    assert len(await (await client.get("/api/v1/scores")).json()) == 1


async def test_an_interviewer_cannot_score_someone_they_do_not_interview(
    client: Any, world: World
) -> None:
    await set_up_scoring(client, world)
    csrf = await login(client, world.a.director_email)
    response = await put(client, own_url(world), csrf, {"answers": {}, "revision": 1})
    assert response.status == 404


async def test_applicants_reach_no_score(client: Any, world: World) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, world.a.interviewer_email)
    await put(client, own_url(world), csrf, {"answers": {ids.communication: 2}, "revision": 1})
    async with client.app[DB]() as db:
        score = (await db.scalars(select(Score))).one()
    client.session.cookie_jar.clear()
    async with client.app[DB]() as db, db.begin():
        applicant = await db.get(Applicant, world.a.applicant_id)
        assert applicant is not None
        link = await client.app[AUTH].issue_magic_link(db, applicant)
    await client.get(f"/a/{link}", allow_redirects=False)
    for url in (own_url(world), f"/api/v1/scores/{score.id}", "/api/v1/scores"):
        response = await client.get(url)
        assert response.status == 403, url


async def test_programs_are_isolated(client: Any, world: World) -> None:
    ids = await set_up_scoring(client, world)
    csrf = await login(client, world.a.interviewer_email)
    await put(client, own_url(world), csrf, {"answers": {ids.communication: 2}, "revision": 1})
    async with client.app[DB]() as db:
        score = (await db.scalars(select(Score))).one()
    csrf = await login(client, world.b.coordinator_email)
    assert (await client.get(f"/api/v1/scores/{score.id}")).status == 404
    assert await (await client.get("/api/v1/scores")).json() == []
    response = await post(
        client, f"/api/v1/sessions/{world.a.session_id}/scoring-lock", csrf, {"locked": True}
    )
    assert response.status == 404
