"""Scores into ranks through the API: results, exclusions, overrides, rank lists, exports."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from portal.models import Applicant, AuditEntry
from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_scores_api import Scoring, own_url, post, put, set_up_scoring
from web.keys import DB


async def scored_world(client: Any, world: World) -> Scoring:
    """Ann: 5 and 3 on communication from the two interviewers; Bo: 2 and 2; all submitted."""
    ids = await set_up_scoring(client, world)
    async with client.app[DB]() as db, db.begin():
        ann = await db.get(Applicant, world.a.applicant_id)
        assert ann is not None
        ann.aamc_id, ann.medical_school = "12345678", "=cmd|' /C calc'!A0"
    sheets = {
        world.a.interviewer_email: {world.a.applicant_id: 5, world.a.other_applicant_id: 2},
        ids.second_interviewer_email: {world.a.applicant_id: 3, world.a.other_applicant_id: 2},
    }
    for email, by_applicant in sheets.items():
        csrf = await login(client, email)
        for applicant_id, value in by_applicant.items():
            body = {"answers": {ids.communication: value, ids.would_rank: True}, "revision": 1}
            response = await post(client, own_url(world, applicant_id) + "/submit", csrf, body)
            assert response.status == 200, await response.text()
    return ids


async def test_results_average_the_submitted_scores(client: Any, world: World) -> None:
    await scored_world(client, world)
    await login(client, world.a.coordinator_email)
    results = await (await client.get("/api/v1/ranks/results")).json()
    assert [r["name"] for r in results] == ["Ann Applicant a", "Bo Applicant a"]
    # 5 of 1..5 is 10, 3 is 5.5: average 7.75. Bo: 2 of 1..5 is 3.25 twice.
    assert abs(results[0]["final"] - 7.75) < 1e-9 and results[0]["rank"] == 1
    assert results[0]["disagreement"] is True  # 4.5 apart on a 9-point range
    assert abs(results[1]["final"] - 3.25) < 1e-9 and results[1]["interviews"] == 2


async def test_exclusion_and_override_need_a_reason_and_are_audited(
    client: Any, world: World
) -> None:
    ids = await scored_world(client, world)
    csrf = await login(client, world.a.director_email)
    applicant = world.a.applicant_id
    exclusion = f"/api/v1/applicants/{applicant}/exclusions/{ids.second_interviewer_id}"
    response = await put(client, exclusion, csrf, {"reason": "  "})
    assert response.status == 422 and (await error_of(response))["field"] == "reason"
    assert (
        await put(client, exclusion, csrf, {"reason": "Met the applicant before"})
    ).status == 204
    results = await (await client.get("/api/v1/ranks/results")).json()
    assert abs(results[0]["final"] - 10.0) < 1e-9
    assert results[0]["excluded"] == [ids.second_interviewer_id]

    override = f"/api/v1/applicants/{applicant}/override"
    response = await put(client, override, csrf, {"value": 6, "reason": ""})
    assert response.status == 422
    response = await put(client, override, csrf, {"value": 11, "reason": "Too high"})
    assert response.status == 422 and (await error_of(response))["field"] == "value"
    assert (await put(client, override, csrf, {"value": 6, "reason": "Committee"})).status == 204
    results = await (await client.get("/api/v1/ranks/results")).json()
    by_name = {r["name"]: r for r in results}
    assert by_name["Ann Applicant a"]["final"] == 6 and by_name["Ann Applicant a"]["average"] == 10
    assert by_name["Ann Applicant a"]["override_reason"] == "Committee"

    assert (await client.delete(exclusion, headers={"X-CSRF-Token": csrf})).status == 204
    assert (await client.delete(override, headers={"X-CSRF-Token": csrf})).status == 204
    async with client.app[DB]() as db:
        actions = set((await db.scalars(select(AuditEntry.action))).all())
    assert {"score.exclude", "score.include", "score.override", "score.override_remove"} <= actions


async def test_who_may_see_and_adjust_ranks(client: Any, world: World) -> None:
    ids = await scored_world(client, world)
    csrf = await login(client, world.a.interviewer_email)
    assert (await client.get("/api/v1/ranks/results")).status == 403
    assert (await client.get("/api/v1/rank-lists")).status == 403
    assert (await client.get("/api/v1/exports/scores.csv")).status == 403
    csrf = await login(client, world.a.coordinator_email)
    url = f"/api/v1/applicants/{world.a.applicant_id}/exclusions/{ids.second_interviewer_id}"
    # Coordinators adjust scores too (recorded in the audit log); interviewers never do.
    assert (await put(client, url, csrf, {"reason": "x"})).status == 204

    lists = await (await client.get("/api/v1/rank-lists")).json()
    csrf = await login(client, world.b.director_email)
    assert (await client.get(f"/api/v1/rank-lists/{lists[0]['id']}")).status == 404
    assert (await put(client, url, csrf, {"reason": "x"})).status == 404
    assert await (await client.get("/api/v1/ranks/results")).json() == []


async def test_rank_lists_reorder_revert_and_crud(client: Any, world: World) -> None:
    await scored_world(client, world)
    csrf = await login(client, world.a.coordinator_email)
    lists = await (await client.get("/api/v1/rank-lists")).json()
    main = lists[0]
    assert main["is_main"] and [e["name"] for e in main["entries"]] == [
        "Ann Applicant a",
        "Bo Applicant a",
    ]
    ann, bo = world.a.applicant_id, world.a.other_applicant_id
    order_url = f"/api/v1/rank-lists/{main['id']}/order"

    response = await put(client, order_url, csrf, {"entries": [{"applicant_id": bo}]})
    assert response.status == 422 and (await error_of(response))["field"] == "entries"
    twice = {"entries": [{"applicant_id": bo}, {"applicant_id": bo}]}
    assert (await put(client, order_url, csrf, twice)).status == 422

    swapped = {"entries": [{"applicant_id": bo}, {"applicant_id": ann, "included": False}]}
    response = await put(client, order_url, csrf, swapped)
    assert response.status == 200
    body = await response.json()
    assert [(e["name"], e["rank"], e["included"]) for e in body["entries"]] == [
        ("Bo Applicant a", 1, True),
        ("Ann Applicant a", None, False),
    ]
    assert body["customised"] is True

    response = await post(client, f"/api/v1/rank-lists/{main['id']}/revert", csrf, {})
    reverted = await response.json()
    assert [e["name"] for e in reverted["entries"]] == ["Ann Applicant a", "Bo Applicant a"]
    assert reverted["customised"] is False

    response = await post(client, "/api/v1/rank-lists", csrf, {"name": "Research track"})
    assert response.status == 201
    custom = await response.json()
    response = await client.patch(
        f"/api/v1/rank-lists/{custom['id']}",
        json={"name": "Research"},
        headers={"X-CSRF-Token": csrf},
    )
    assert (await response.json())["name"] == "Research"
    delete_main = await client.delete(
        f"/api/v1/rank-lists/{main['id']}", headers={"X-CSRF-Token": csrf}
    )
    assert delete_main.status == 409
    gone = await client.delete(f"/api/v1/rank-lists/{custom['id']}", headers={"X-CSRF-Token": csrf})
    assert gone.status == 204
    async with client.app[DB]() as db:
        actions = set((await db.scalars(select(AuditEntry.action))).all())
    assert {"rank_list.reorder", "rank_list.revert", "rank_list.create"} <= actions


async def test_the_csv_export_has_what_a_program_needs(client: Any, world: World) -> None:
    await scored_world(client, world)
    csrf = await login(client, world.a.coordinator_email)
    main = (await (await client.get("/api/v1/rank-lists")).json())[0]
    body = {
        "entries": [
            {"applicant_id": world.a.other_applicant_id},
            {"applicant_id": world.a.applicant_id},
        ]
    }
    await put(client, f"/api/v1/rank-lists/{main['id']}/order", csrf, body)
    response = await client.get(f"/api/v1/rank-lists/{main['id']}/export.csv")
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0] == [
        "Rank",
        "Applicant",
        "Email",
        "AAMC ID",
        "Medical school",
        "Final score",
        "Average",
        "Interviews",
        "Notes",
    ]
    assert rows[1][:3] == ["1", "Bo Applicant a", "applicant2@a.test"]
    assert rows[2] == [
        "2",
        "Ann Applicant a",
        "applicant1@a.test",
        "12345678",
        "'=cmd|' /C calc'!A0",
        "7.75",
        "7.75",
        "2",
        "",
    ]
    pdf = await client.get(f"/api/v1/rank-lists/{main['id']}/export.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")

    scores = await client.get("/api/v1/exports/scores.csv")
    lines = list(csv.reader(io.StringIO((await scores.read()).decode("utf-8-sig"))))
    assert len(lines) == 5 and lines[1][0] == "Ann Applicant a" and lines[1][8] == "yes"


async def test_agreement_per_session(client: Any, world: World) -> None:
    await scored_world(client, world)
    await login(client, world.a.coordinator_email)
    response = await client.get(f"/api/v1/sessions/{world.a.session_id}/agreement")
    body = await response.json()
    assert body["n_applicants"] == 2 and body["n_interviewers"] == 2
    assert body["alpha"] is not None and len(body["points"]) == 4
    assert body["reading"]
