"""Scoring-form pages through the browser's eyes: library, editor, preview, copy, archive."""

import re
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from scoring.models import Score, ScoringForm
from tests.factories import World
from tests.web.helpers import login
from web.keys import DB

Client = TestClient[web.Request, web.Application]


def editor_fields(csrf: str, op: str, *items: dict[str, str], name: str = "Core") -> dict[str, str]:
    fields = {
        "csrf_token": csrf,
        "op": op,
        "name": name,
        "description": "",
        "item_count": str(len(items)),
    }
    for index, item in enumerate(items):
        for key, value in item.items():
            fields[f"items-{index}-{key}"] = value
    return fields


RATING = {
    "kind": "rating",
    "label": "Communication",
    "scale_min": "1",
    "scale_max": "5",
    "weight": "2",
    "required": "on",
}
COMMENT = {"kind": "comment", "label": "Comments"}


async def post(client: Client, path: str, data: dict[str, Any]) -> Any:
    return await client.post(path, data=data, allow_redirects=False)


async def test_the_library_lists_the_programs_forms(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    response = await client.get("/forms")
    assert response.status == 200
    html = await response.text()
    assert "Form a" in html and "Form b" not in html
    assert 'href="/forms/new"' in html and "Copy Form a" in html


async def test_interviewers_see_the_library_without_edit_controls(
    client: Client, world: World
) -> None:
    await login(client, world.a.interviewer_email)
    html = await (await client.get("/forms")).text()
    assert "Form a" in html and "/forms/new" not in html and "Archive" not in html
    assert (await client.get("/forms/new", allow_redirects=False)).status == 403


async def test_building_a_form_step_by_step(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    blank = await (await client.get("/forms/new")).text()
    assert 'id="item-0-label"' in blank and 'name="csrf_token"' in blank

    added = await post(client, "/forms/new", editor_fields(csrf, "add:comment", RATING))
    assert added.status == 200
    html = await added.text()
    assert 'id="item-1-label"' in html and "Comment item 2 added." in html
    assert re.search(r'id="item-1-label"[^>]*autofocus', html)

    moved = await (
        await post(client, "/forms/new", editor_fields(csrf, "up:1", RATING, COMMENT))
    ).text()
    assert moved.index('value="Comments"') < moved.index('value="Communication"')
    assert "Item moved up to position 1." in moved

    removed = await (
        await post(client, "/forms/new", editor_fields(csrf, "remove:0", RATING, COMMENT))
    ).text()
    assert 'value="Communication"' not in removed and 'value="Comments"' in removed

    saved = await post(client, "/forms/new", editor_fields(csrf, "save", RATING, COMMENT))
    assert saved.status == 303
    location = saved.headers["Location"]
    assert location.endswith("?notice=created")
    page = await (await client.get(location)).text()
    assert "Form created." in page and 'value="Core"' in page
    assert "No scores yet, so saving changes this version in place." in page


async def test_validation_errors_are_shown_next_to_the_field(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    empty_name = await post(client, "/forms/new", editor_fields(csrf, "save", RATING, name=" "))
    assert empty_name.status == 422
    html = await empty_name.text()
    assert (
        'role="alert"' in html and "Give the form a name." in html and "Nothing was saved." in html
    )
    assert re.search(
        r'id="form-name"[^>]*aria-invalid="true" aria-describedby="form-name-error"', html
    )
    assert 'id="form-name-error"' in html

    bad_scale = {**RATING, "scale_min": "6"}
    response = await post(client, "/forms/new", editor_fields(csrf, "save", bad_scale))
    html = await response.text()
    assert response.status == 422
    assert "Item 1: the scale&#39;s lowest value must be below its highest." in html
    assert re.search(r'id="item-0-scale_max"[^>]*aria-invalid="true"', html)
    assert 'value="6"' in html  # what was typed stays

    not_a_number = {**RATING, "weight": "heavy"}
    html = await (
        await post(client, "/forms/new", editor_fields(csrf, "save", not_a_number))
    ).text()
    assert "Item 1: the weight must be above 0 and at most 100." in html
    whole = {**RATING, "scale_max": "five"}
    html = await (await post(client, "/forms/new", editor_fields(csrf, "save", whole))).text()
    assert "Item 1: the highest value must be a whole number." in html

    no_items = await post(client, "/forms/new", editor_fields(csrf, "save"))
    assert no_items.status == 422 and "Add at least one item." in await no_items.text()
    async with client.app[DB]() as db:
        assert await db.get(ScoringForm, world.a.form_id) is not None


async def test_editing_in_place_then_as_a_new_version(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    form_id = world.a.form_id
    in_place = await post(
        client, f"/forms/{form_id}", editor_fields(csrf, "save", RATING, name="Form a")
    )
    assert in_place.status == 303
    assert in_place.headers["Location"] == f"/forms/{form_id}?notice=in_place"

    async with client.app[DB]() as db, db.begin():
        for applicant in (world.a.applicant_id, world.a.other_applicant_id):
            db.add(
                Score(
                    program_id=world.a.program_id,
                    session_id=world.a.session_id,
                    applicant_id=applicant,
                    interviewer_id=world.a.interviewer_id,
                    form_id=form_id,
                )
            )
    editor = await (await client.get(f"/forms/{form_id}")).text()
    assert "This form has 2 scores; saving creates version 2." in editor
    assert "the 1 room using it keeps using it until re-pointed" in editor
    assert "Save as version 2" in editor

    versioned = await post(
        client, f"/forms/{form_id}", editor_fields(csrf, "save", RATING, COMMENT, name="Form a")
    )
    assert versioned.status == 303
    new_id = versioned.headers["Location"].split("?")[0].removeprefix("/forms/")
    assert new_id != form_id and versioned.headers["Location"].endswith("notice=new_version")
    new_page = await (await client.get(versioned.headers["Location"])).text()
    assert "Saved as a new version." in new_page and "Versions" in new_page

    old_page = await (await client.get(f"/forms/{form_id}")).text()
    assert "This is version 1, kept for the 2 scores given on it." in old_page
    assert f'href="/forms/{new_id}"' in old_page and 'name="items-0-label"' not in old_page

    stale = await post(
        client, f"/forms/{form_id}", editor_fields(csrf, "save", RATING, name="Again")
    )
    assert stale.status == 409
    assert "not the current one" in await stale.text()


async def test_preview_is_read_only(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    yes_no = {"kind": "yes_no", "label": "Would you rank them?", "help_text": "Be honest"}
    saved = await post(client, "/forms/new", editor_fields(csrf, "save", RATING, yes_no, COMMENT))
    form_id = saved.headers["Location"].split("?")[0].removeprefix("/forms/")
    html = await (await client.get(f"/forms/{form_id}/preview")).text()
    assert "Preview: this is how interviewers see version 1" in html
    assert html.count('type="radio" name="p-') == 5 + 2
    assert "<fieldset disabled>" in html and "(required)" in html and "Be honest" in html
    assert "counts 2×" in html
    assert re.search(r"<textarea[^>]*disabled", html)
    assert 'name="csrf_token"' not in html.split("<main")[1].split("</main>")[0]


async def test_copy_and_archive_from_the_library(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    copied = await post(client, f"/forms/{world.a.form_id}/copy", {"csrf_token": csrf})
    assert copied.status == 303 and copied.headers["Location"].endswith("?notice=copied")
    assert "Copy of Form a" in await (await client.get("/forms")).text()

    archived = await post(client, f"/forms/{world.a.form_id}/archive", {"csrf_token": csrf})
    assert archived.headers["Location"] == "/forms?notice=archived"
    library = await (await client.get("/forms?notice=archived")).text()
    assert "Form archived." in library and ">Form a</a>" not in library
    with_archived = await (await client.get("/forms?archived=1")).text()
    assert ">Form a</a>" in with_archived and "Restore Form a" in with_archived
    restored = await post(client, f"/forms/{world.a.form_id}/restore", {"csrf_token": csrf})
    assert restored.headers["Location"] == "/forms?notice=restored"


async def test_other_programs_forms_are_not_found(client: Client, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    for path in (f"/forms/{world.b.form_id}", f"/forms/{world.b.form_id}/preview"):
        assert (await client.get(path)).status == 404
    for suffix in ("", "/copy", "/archive"):
        response = await post(
            client, f"/forms/{world.b.form_id}{suffix}", editor_fields(csrf, "save", RATING)
        )
        assert response.status == 404
    async with client.app[DB]() as db:
        form_b = await db.get(ScoringForm, world.b.form_id)
        assert form_b is not None and not form_b.archived and form_b.name == "Form b"


async def test_page_posts_need_the_csrf_token(client: Client, world: World) -> None:
    await login(client, world.a.coordinator_email)
    response = await post(client, f"/forms/{world.a.form_id}/archive", {})
    assert response.status == 403
