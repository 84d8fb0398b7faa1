"""Staff setup through the API: add, CSV import, roles, deactivation, and their guards."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core.errors import Conflict
from core.scoping import ProgramScope
from portal import people
from portal.models import AuditEntry, Staff
from portal.permissions import Actor
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB


async def as_user(client: TestClient, email: str) -> dict[str, str]:  # type: ignore[type-arg]
    return {"X-CSRF-Token": await login(client, email)}


async def staff_by_email(client: TestClient, email: str) -> Staff:  # type: ignore[type-arg]
    async with client.app[DB]() as db:
        row = await db.scalar(select(Staff).where(Staff.email == email))
        assert row is not None
        return row


async def can_login(client: TestClient, email: str, password: str) -> bool:  # type: ignore[type-arg]
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return response.status == 200


async def test_add_staff_without_password(client: TestClient, world: World) -> None:
    headers = await as_user(client, world.a.coordinator_email)
    body = {"name": "Dr New", "email": " New@A.test ", "role": "interviewer"}
    response = await client.post("/api/v1/staff", json=body, headers=headers)
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    assert created["email"] == "new@a.test" and created["initial_password"] is None
    assert (await staff_by_email(client, "new@a.test")).password_hash is None
    assert not await can_login(client, "new@a.test", "")


async def test_add_staff_with_generated_or_given_password(client: TestClient, world: World) -> None:
    headers = await as_user(client, world.a.director_email)
    body = {"name": "Gen", "email": "gen@a.test", "role": "coordinator", "generate_password": True}
    created = await (await client.post("/api/v1/staff", json=body, headers=headers)).json()
    password = created["initial_password"]
    assert password and len(password) >= 12
    body = {"name": "Giv", "email": "giv@a.test", "role": "director", "password": "long enough pw"}
    assert (await client.post("/api/v1/staff", json=body, headers=headers)).status == 201
    assert await can_login(client, "gen@a.test", password)
    assert await can_login(client, "giv@a.test", "long enough pw")


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"name": "X", "email": "nope", "role": "interviewer"}, 422, "invalid", "email"),
        ({"name": "X", "email": "x@a.test", "role": "chief"}, 422, "invalid", "role"),
        ({"name": "", "email": "x@a.test", "role": "interviewer"}, 422, "invalid", "name"),
        ({"name": "X", "email": "x@a.test", "role": "director"}, 403, "director_only", None),
        (
            {"name": "X", "email": "x@a.test", "role": "interviewer", "password": "short"},
            422,
            "invalid",
            "password",
        ),
        (
            {"name": "X", "email": "DIRECTOR@b.test", "role": "coordinator"},
            409,
            "email_taken",
            "email",
        ),
    ],
)
async def test_add_staff_refusals(
    client: TestClient, world: World, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    headers = await as_user(client, world.a.coordinator_email)
    response = await client.post("/api/v1/staff", json=body, headers=headers)
    assert response.status == status, await response.text()
    error = await error_of(response)
    assert (error["code"], error["field"]) == (code, field)


async def test_interviewer_cannot_manage_staff(client: TestClient, world: World) -> None:
    headers = await as_user(client, world.a.interviewer_email)
    body = {"name": "X", "email": "x@a.test", "role": "interviewer"}
    assert (await client.post("/api/v1/staff", json=body, headers=headers)).status == 403


async def test_csv_import_reports_every_row_and_imports_nothing(
    client: TestClient, world: World
) -> None:
    headers = await as_user(client, world.a.coordinator_email)
    csv_text = (
        "name,email,role\n"
        "Good One,good@a.test,interviewer\n"
        "No Mail,,interviewer\n"
        "Taken,interviewer@b.test,interviewer\n"
        "Boss,boss@a.test,director\n"
        "Odd,odd@a.test,janitor\n"
    )
    response = await client.post("/api/v1/staff/import", data=csv_text, headers=headers)
    assert response.status == 422
    error = await error_of(response)
    assert error["code"] == "csv_invalid"
    assert [(p["line"], p["reason"]) for p in error["problems"]] == [
        (3, "missing email"),
        (4, "a staff account with interviewer@b.test already exists"),
        (5, "only a director can add a director"),
        (6, "unknown role 'janitor' (use director, coordinator, interviewer)"),
    ]
    listed = await (await client.get("/api/v1/staff")).json()
    assert "good@a.test" not in str(listed)


async def test_csv_import_clean_file(client: TestClient, world: World) -> None:
    headers = await as_user(client, world.a.director_email)
    csv_text = "Name,Email,Role\nAl,al@a.test,interviewer\nBea,bea@a.test,Director\n"
    form = aiohttp.FormData()
    form.add_field("file", csv_text.encode(), filename="staff.csv", content_type="text/csv")
    response = await client.post("/api/v1/staff/import", data=form, headers=headers)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["created"] == 2
    assert {s["role"] for s in body["staff"]} == {"interviewer", "director"}
    assert (await staff_by_email(client, "bea@a.test")).password_hash is None


async def test_roles_and_the_director_rule(client: TestClient, world: World) -> None:
    coordinator = await staff_by_email(client, world.a.coordinator_email)
    interviewer = await staff_by_email(client, world.a.interviewer_email)
    director = await staff_by_email(client, world.a.director_email)
    headers = await as_user(client, world.a.coordinator_email)
    path = f"/api/v1/staff/{interviewer.id}/role"
    promoted = await client.post(path, json={"role": "coordinator"}, headers=headers)
    assert promoted.status == 200 and (await promoted.json())["role"] == "coordinator"
    to_director = await client.post(path, json={"role": "director"}, headers=headers)
    assert (await error_of(to_director))["code"] == "director_only"
    demote = await client.post(
        f"/api/v1/staff/{director.id}/role", json={"role": "interviewer"}, headers=headers
    )
    assert demote.status == 403
    own = await client.post(
        f"/api/v1/staff/{coordinator.id}/role", json={"role": "interviewer"}, headers=headers
    )
    assert own.status == 409 and (await error_of(own))["code"] == "self"
    headers = await as_user(client, world.a.director_email)
    ok = await client.post(path, json={"role": "director"}, headers=headers)
    assert ok.status == 200 and (await ok.json())["role"] == "director"
    async with client.app[DB]() as db:
        entries = list(
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "staff.role"))
        )
    assert [(e.details["old"], e.details["new"]) for e in entries] == [
        ("interviewer", "coordinator"),
        ("coordinator", "director"),
    ]


async def test_deactivate_and_reactivate(client: TestClient, world: World) -> None:
    interviewer = await staff_by_email(client, world.a.interviewer_email)
    director = await staff_by_email(client, world.a.director_email)
    headers = await as_user(client, world.a.coordinator_email)
    off = await client.post(f"/api/v1/staff/{interviewer.id}/deactivate", headers=headers)
    assert off.status == 200 and (await off.json())["active"] is False
    listed = await (await client.get("/api/v1/staff")).json()
    assert {"email": world.a.interviewer_email, "active": False}.items() <= next(
        s for s in listed if s["email"] == world.a.interviewer_email
    ).items()
    assert not await can_login(client, world.a.interviewer_email, "correct horse battery")
    headers = await as_user(client, world.a.coordinator_email)
    boss = await client.post(f"/api/v1/staff/{director.id}/deactivate", headers=headers)
    assert boss.status == 403
    on = await client.post(f"/api/v1/staff/{interviewer.id}/reactivate", headers=headers)
    assert on.status == 200 and (await on.json())["active"] is True
    assert await can_login(client, world.a.interviewer_email, "correct horse battery")


async def test_nobody_deactivates_themselves(client: TestClient, world: World) -> None:
    director = await staff_by_email(client, world.a.director_email)
    headers = await as_user(client, world.a.director_email)
    response = await client.post(f"/api/v1/staff/{director.id}/deactivate", headers=headers)
    assert response.status == 409
    error = await error_of(response)
    assert error["code"] == "self" and "your own account" in error["message"]


async def test_last_active_director_is_kept(client: TestClient, world: World) -> None:
    # Another director's account changing the only active one: the rule holds in the domain.
    director = await staff_by_email(client, world.a.director_email)
    other = Actor("staff", "someone-else", world.a.program_id, "X", "director", "director")
    async with client.app[DB]() as db:
        scope = ProgramScope(db, world.a.program_id)
        for change in (
            people.set_staff_active(scope, other, director.id, False),
            people.set_staff_role(scope, other, director.id, "coordinator"),
        ):
            with pytest.raises(Conflict) as caught:
                await change
            assert caught.value.code == "last_director"


async def test_other_programs_staff_are_not_found(client: TestClient, world: World) -> None:
    b_interviewer = await staff_by_email(client, world.b.interviewer_email)
    headers = await as_user(client, world.a.director_email)
    for path, body in (
        (f"/api/v1/staff/{b_interviewer.id}/role", {"role": "coordinator"}),
        (f"/api/v1/staff/{b_interviewer.id}/deactivate", None),
        (f"/api/v1/staff/{b_interviewer.id}/reactivate", None),
    ):
        response = await client.post(path, json=body, headers=headers)
        assert response.status == 404, path
        assert (await error_of(response))["code"] == "not_found"
    assert (await staff_by_email(client, world.b.interviewer_email)).active
