"""The scoring-form API: validation, the library, copies, archive and the versioning rule."""

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from scoring.models import Score, ScoringForm, ScoringItem
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB

Client = TestClient[web.Request, web.Application]


def form_body(name: str = "Interview form", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "description": "For faculty interviews",
        "items": [
            {"kind": "rating", "label": "Communication", "weight": 2, "required": True},
            {"kind": "yes_no", "label": "Would you work with them?"},
            {"kind": "comment", "label": "Comments"},
        ],
    }
    body.update(overrides)
    return body


async def create(client: Client, csrf: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/forms", json=body or form_body(), headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def add_score(client: Client, world: World, form_id: str) -> str:
    async with client.app[DB]() as db, db.begin():
        score = Score(
            program_id=world.a.program_id,
            session_id=world.a.session_id,
            applicant_id=world.a.applicant_id,
            interviewer_id=world.a.interviewer_id,
            form_id=form_id,
            answers={},
        )
        db.add(score)
        await db.flush()
        return score.id


async def test_create_and_get_a_form(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    created = await create(client, csrf)
    assert created["family_id"] == created["id"] and created["version"] == 1
    assert created["is_current"] and not created["archived"]
    kinds = [(i["kind"], i["position"], i["weight"]) for i in created["items"]]
    assert kinds == [("rating", 0, 2.0), ("yes_no", 1, 0.0), ("comment", 2, 0.0)]
    rating = created["items"][0]
    assert (rating["scale_min"], rating["scale_max"], rating["required"]) == (1, 5, True)
    fetched = await (await client.get(f"/api/v1/forms/{created['id']}")).json()
    assert fetched == created
    listed = await (await client.get("/api/v1/forms")).json()
    entry = next(f for f in listed if f["id"] == created["id"])
    assert entry["item_count"] == 3 and entry["score_count"] == 0


INVALID = [
    ({"name": "  "}, "name", "Give the form a name."),
    ({"name": "x" * 201}, "name", "Keep the name under 200 characters."),
    ({"description": "x" * 4001}, "description", "Keep the description under 4000 characters."),
    ({"items": []}, "items", "Add at least one item."),
    (
        {"items": [{"kind": "rating", "label": "A"}] * 101},
        "items",
        "A form holds at most 100 items.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A"}, {"kind": "comment", "label": " "}]},
        "items.1.label",
        "Item 2: give it a label.",
    ),
    (
        {"items": [{"kind": "rating", "label": "x" * 301}]},
        "items.0.label",
        "Item 1: keep the label under 300 characters.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A", "help_text": "x" * 2001}]},
        "items.0.help_text",
        "Item 1: keep the help text under 2000 characters.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A", "scale_min": -1}]},
        "items.0.scale_min",
        "Item 1: the scale starts at 0 or above.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A", "scale_max": 11}]},
        "items.0.scale_max",
        "Item 1: the scale ends at 10 or below.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A", "scale_min": 5, "scale_max": 5}]},
        "items.0.scale_max",
        "Item 1: the scale's lowest value must be below its highest.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A", "weight": 0}]},
        "items.0.weight",
        "Item 1: the weight must be above 0 and at most 100.",
    ),
    (
        {"items": [{"kind": "rating", "label": "A", "weight": 101}]},
        "items.0.weight",
        "Item 1: the weight must be above 0 and at most 100.",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID)
async def test_invalid_forms_are_refused(
    client: Client, world: World, overrides: dict[str, Any], field: str, message: str
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.post(
        "/api/v1/forms", json=form_body(**overrides), headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 422
    error = await error_of(response)
    assert (error["field"], error["message"]) == (field, message)
    async with client.app[DB]() as db:
        names = (await db.scalars(select(ScoringForm.name))).all()
    assert sorted(names) == ["Form a", "Form b"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"kind": "stars", "label": "A"}]}, "items.0.kind"),
        ({"items": [{"kind": "rating", "label": "A", "scale_min": "one"}]}, "items.0.scale_min"),
        ({"name": "No items"}, "items"),
    ],
)
async def test_malformed_bodies_name_the_field(
    client: Client, world: World, body: dict[str, Any], field: str
) -> None:
    csrf = await login(client, world.a.coordinator_email)
    payload = {"name": "Form", **body}
    response = await client.post("/api/v1/forms", json=payload, headers={"X-CSRF-Token": csrf})
    assert response.status == 422
    assert (await error_of(response))["field"] == field


async def test_a_form_without_scores_is_edited_in_place_and_a_scored_one_gets_a_new_version(
    client: Client, world: World
) -> None:
    csrf = await login(client, world.a.director_email)
    created = await create(client, csrf)
    form_id = created["id"]
    headers = {"X-CSRF-Token": csrf}

    first = await client.put(f"/api/v1/forms/{form_id}", json=form_body("Renamed"), headers=headers)
    assert first.status == 200, await first.text()
    saved = await first.json()
    assert saved["outcome"] == "in_place" and saved["new_version"] is False
    assert saved["form"]["id"] == form_id and saved["form"]["name"] == "Renamed"
    assert saved["form"]["version"] == 1

    score_id = await add_score(client, world, form_id)
    old_items = [i["label"] for i in saved["form"]["items"]]
    edited = form_body("Renamed", items=[{"kind": "rating", "label": "Professionalism"}])
    second = await (
        await client.put(f"/api/v1/forms/{form_id}", json=edited, headers=headers)
    ).json()
    assert second["outcome"] == "new_version" and second["new_version"] is True
    assert second["previous_id"] == form_id
    new = second["form"]
    assert new["id"] != form_id and new["family_id"] == created["family_id"]
    assert new["version"] == 2 and new["is_current"] and new["score_count"] == 0
    assert [i["label"] for i in new["items"]] == ["Professionalism"]

    old = await (await client.get(f"/api/v1/forms/{form_id}")).json()
    assert old["is_current"] is False and old["score_count"] == 1
    assert [i["label"] for i in old["items"]] == old_items
    async with client.app[DB]() as db:
        score = await db.get(Score, score_id)
        assert score is not None and score.form_id == form_id
    listed = await (await client.get("/api/v1/forms")).json()
    assert [f["id"] for f in listed if f["family_id"] == created["family_id"]] == [new["id"]]
    versions = await (await client.get(f"/api/v1/forms/{form_id}/versions")).json()
    assert [(v["version"], v["is_current"]) for v in versions] == [(2, True), (1, False)]


async def test_saving_unchanged_makes_no_version(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    created = await create(client, csrf)
    await add_score(client, world, created["id"])
    response = await client.put(
        f"/api/v1/forms/{created['id']}", json=form_body(), headers={"X-CSRF-Token": csrf}
    )
    saved = await response.json()
    assert saved["outcome"] == "unchanged" and saved["form"]["id"] == created["id"]


async def test_old_versions_cannot_be_edited(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    created = await create(client, csrf)
    await add_score(client, world, created["id"])
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/v1/forms/{created['id']}"
    await client.put(url, json=form_body("Version 2"), headers=headers)
    again = await client.put(url, json=form_body("Version 3"), headers=headers)
    assert again.status == 409
    error = await error_of(again)
    assert error["code"] == "not_current" and "version 1" in error["message"]


async def test_rooms_keep_the_version_they_use(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    form_id = world.a.form_id
    await add_score(client, world, form_id)
    response = await client.put(
        f"/api/v1/forms/{form_id}", json=form_body("Form a v2"), headers={"X-CSRF-Token": csrf}
    )
    saved = await response.json()
    assert saved["new_version"] and saved["rooms_on_previous_version"] == 1
    room = await (await client.get(f"/api/v1/rooms/{world.a.room_id}")).json()
    assert room["scoring_form_id"] == form_id


async def test_a_failed_save_leaves_the_form_alone(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    created = await create(client, csrf)
    bad = form_body("Changed", items=[{"kind": "rating", "label": "A", "weight": -1}])
    response = await client.put(
        f"/api/v1/forms/{created['id']}", json=bad, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 422
    assert await (await client.get(f"/api/v1/forms/{created['id']}")).json() == created


async def test_copy_makes_an_independent_form(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    created = await create(client, csrf)
    headers = {"X-CSRF-Token": csrf}
    response = await client.post(f"/api/v1/forms/{created['id']}/copy", json={}, headers=headers)
    assert response.status == 201
    copy = await response.json()
    assert copy["name"] == "Copy of Interview form" and copy["version"] == 1
    assert copy["family_id"] == copy["id"] != created["family_id"]
    assert [i["label"] for i in copy["items"]] == [i["label"] for i in created["items"]]
    assert {i["id"] for i in copy["items"]}.isdisjoint(i["id"] for i in created["items"])
    named = await client.post(
        f"/api/v1/forms/{created['id']}/copy", json={"name": "Fellowship"}, headers=headers
    )
    assert (await named.json())["name"] == "Fellowship"


async def test_archive_and_restore(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    created = await create(client, csrf)
    headers = {"X-CSRF-Token": csrf}
    archived = await client.post(f"/api/v1/forms/{created['id']}/archive", headers=headers)
    assert (await archived.json())["archived"] is True
    listed = await (await client.get("/api/v1/forms")).json()
    assert created["id"] not in [f["id"] for f in listed]
    everything = await (await client.get("/api/v1/forms?include_archived=true")).json()
    assert created["id"] in [f["id"] for f in everything]
    edit = await client.put(f"/api/v1/forms/{created['id']}", json=form_body("X"), headers=headers)
    assert edit.status == 409 and (await error_of(edit))["code"] == "archived"
    restored = await client.post(f"/api/v1/forms/{created['id']}/restore", headers=headers)
    assert (await restored.json())["archived"] is False


async def test_interviewers_read_but_do_not_write(client: Client, world: World) -> None:
    csrf = await login(client, world.a.interviewer_email)
    assert (await client.get(f"/api/v1/forms/{world.a.form_id}")).status == 200
    response = await client.post("/api/v1/forms", json=form_body(), headers={"X-CSRF-Token": csrf})
    assert response.status == 403


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", form_body()),
        ("POST", "/copy", {}),
        ("POST", "/archive", None),
        ("POST", "/restore", None),
        ("GET", "/versions", None),
    ],
)
async def test_other_programs_forms_are_not_found(
    client: Client, world: World, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    csrf = await login(client, world.a.director_email)
    response = await client.request(
        method,
        f"/api/v1/forms/{world.b.form_id}{suffix}",
        json=body,
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 404
    assert (await error_of(response))["code"] == "not_found"
    async with client.app[DB]() as db:
        form_b = await db.get(ScoringForm, world.b.form_id)
        assert form_b is not None and form_b.name == "Form b" and not form_b.archived
        items = (await db.scalars(select(ScoringItem))).all()
    assert all(i.program_id == world.a.program_id for i in items)


async def test_the_list_holds_only_the_own_program(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    listed = await (await client.get("/api/v1/forms")).json()
    assert [f["name"] for f in listed] == ["Form a"]
