"""The applicant's JSON API: sessions with seats, book, waitlist, cancel; staff are refused."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_applicant_pages import csrf_of, setup


async def test_book_waitlist_and_cancel_over_the_api(client: TestClient, world: World) -> None:
    ids = await setup(client, world)
    headers = {"X-CSRF-Token": await csrf_of(client)}
    view = await (await client.get("/api/v1/me/sessions")).json()
    assert view["self_scheduling"] is True and view["applicant_timezone"] == "Europe/Paris"
    tiny = next(s for s in view["sessions"] if s["name"] == "Tiny")
    assert (tiny["seats_left"], tiny["full"]) == (1, False)
    booked = await client.post(
        "/api/v1/me/bookings", json={"session_id": ids["Tiny"]}, headers=headers
    )
    assert booked.status == 201, await booked.text()
    booking = await booked.json()
    again = await client.post(
        "/api/v1/me/bookings", json={"session_id": ids["Tiny"]}, headers=headers
    )
    assert again.status == 409
    assert (await error_of(again))["code"] in ("session_full", "already_booked")
    waitlist = await client.post(
        "/api/v1/me/waitlist", json={"session_id": ids["Roomy"]}, headers=headers
    )
    assert waitlist.status == 409 and (await error_of(waitlist))["code"] == "seats_free"
    moved = await client.post(
        f"/api/v1/me/bookings/{booking['id']}/reschedule",
        json={"session_id": ids["Roomy"]},
        headers=headers,
    )
    assert moved.status == 200 and (await moved.json())["session_id"] == ids["Roomy"]
    cancelled = await client.delete(f"/api/v1/me/bookings/{booking['id']}", headers=headers)
    assert cancelled.status == 204
    view = await (await client.get("/api/v1/me/sessions")).json()
    assert view["status"] == "invited" and view["confirmed"] == []


async def test_staff_cannot_use_the_applicant_api(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    response = await client.post(
        "/api/v1/me/bookings",
        json={"session_id": world.a.session_id},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 403
