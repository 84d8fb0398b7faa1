"""Coordinator-assigned scheduling (issue 13, items 6 and 8): with self-scheduling off, the
Scheduling page lists the invited applicants still without a seat with the sessions they
chose, assigns each with one click, and "Run the allocation" seats the choices without a
preference window; whoever staff place is emailed, once."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from core.scoping import ProgramScope
from portal import allocation
from portal.models import Booking
from portal.models_mail import OutboxMessage
from tests.factories import World
from tests.web.helpers import error_of, login
from tests.web.test_applicant_pages import post, setup
from tests.web.test_magic_link import issue_link
from web.keys import DB

Client = TestClient  # type: ignore[type-arg]


async def as_applicant(client: Client, applicant_id: str) -> None:
    await client.get(f"/a/{await issue_link(client, applicant_id)}")


async def send_choices(client: Client, applicant_id: str, *session_ids: str) -> None:
    await as_applicant(client, applicant_id)
    first, *rest = session_ids
    fields = {"first": first, **({"second": rest[0]} if rest else {})}
    sent = await post(client, action="choose", **fields)
    assert sent.status == 303 and "notice=choices" in sent.headers["Location"], sent.headers


async def outbox(client: Client, world: World, kind: str) -> list[OutboxMessage]:
    async with client.app[DB]() as db:
        rows = await ProgramScope(db, world.a.program_id).all(
            OutboxMessage, OutboxMessage.kind == kind
        )
    return sorted(rows, key=lambda r: (r.created_at, r.id))


async def seats(client: Client, world: World) -> dict[str, str]:
    """applicant id → session id of their scheduled seat."""
    async with client.app[DB]() as db:
        rows = await ProgramScope(db, world.a.program_id).all(
            Booking, Booking.status == "scheduled"
        )
    return {b.applicant_id: b.session_id for b in rows}


async def staff_post(client: Client, csrf: str, **data: str) -> Any:
    return await client.post(
        "/invitations/scheduling", data={"csrf_token": csrf, **data}, allow_redirects=False
    )


async def test_the_page_shows_who_waits_with_their_choices_and_assigns_them(
    client: Client, world: World
) -> None:
    ids = await setup(client, world, self_scheduling=False)
    ann, bo = world.a.applicant_id, world.a.other_applicant_id
    await send_choices(client, ann, ids["Tiny"], ids["Roomy"])
    csrf = await login(client, world.a.coordinator_email)

    html = await (await client.get("/invitations/scheduling")).text()
    assert "Waiting for a session" in html
    ann_row = html.split(f'data-applicant="{ann}"')[1].split("</tr>")[0]
    assert "applicant1@a.test" in ann_row
    assert ann_row.index("Tiny") < ann_row.index("Roomy")  # first choice first
    assert "(1 free)" in ann_row and "(5 free)" in ann_row
    assert f'<option value="{ids["Tiny"]}" selected>' in ann_row  # their first choice offered
    bo_row = html.split(f'data-applicant="{bo}"')[1].split("</tr>")[0]
    assert "No choice sent yet" in bo_row

    done = await staff_post(client, csrf, action="assign", applicant_id=ann, session_id=ids["Tiny"])
    assert done.status == 303 and done.headers["Location"].endswith("notice=assigned")
    assert (await seats(client, world))[ann] == ids["Tiny"]
    after = await (await client.get(done.headers["Location"])).text()
    assert "the applicant is emailed" in after
    assert f'data-applicant="{ann}"' not in after and f'data-applicant="{bo}"' in after
    (sent,) = await outbox(client, world, "assignment")
    assert sent.applicant_id == ann and sent.context["session"] == "Tiny"
    assert sent.ics is not None and "BEGIN:VEVENT" in sent.ics

    # A second click on a stale page books nothing more and sends nothing more.
    again = await staff_post(
        client, csrf, action="assign", applicant_id=ann, session_id=ids["Roomy"]
    )
    assert again.status == 409 and "already has a seat" in await again.text()
    assert len(await outbox(client, world, "assignment")) == 1


async def test_allocation_without_a_window_seats_the_choices_sent(
    client: Client, world: World
) -> None:
    ids = await setup(client, world, self_scheduling=False)
    ann, bo = world.a.applicant_id, world.a.other_applicant_id
    await send_choices(client, ann, ids["Tiny"], ids["Roomy"])
    await send_choices(client, bo, ids["Tiny"])
    csrf = await login(client, world.a.coordinator_email)

    ran = await staff_post(client, csrf, action="allocate", seed="7")
    assert ran.status == 303 and ran.headers["Location"].endswith("notice=allocated")
    expected = allocation.allocate(
        {ann: [ids["Tiny"], ids["Roomy"]], bo: [ids["Tiny"]]},
        {ids["Tiny"]: 1, ids["Roomy"]: 5},
        7,
    )
    assert await seats(client, world) == expected.seated
    told = {m.applicant_id for m in await outbox(client, world, "confirmation")}
    assert told == set(expected.seated)

    # Runs again whenever the coordinator likes: whoever is still waiting is tried again.
    again = await staff_post(client, csrf, action="allocate", seed="8")
    assert again.status == 303
    assert await seats(client, world) == expected.seated


async def test_self_scheduling_without_a_window_still_refuses_to_allocate(
    client: Client, world: World
) -> None:
    await setup(client, world)
    csrf = await login(client, world.a.coordinator_email)
    refused = await staff_post(client, csrf, action="allocate", seed="7")
    assert refused.status == 409
    assert "book their own seats" in await refused.text()


async def test_staff_placements_by_api_are_emailed_once(client: Client, world: World) -> None:
    ids = await setup(client, world, self_scheduling=False)
    ann, bo = world.a.applicant_id, world.a.other_applicant_id
    await send_choices(client, ann, ids["Roomy"])
    csrf = await login(client, world.a.coordinator_email)
    headers = {"X-CSRF-Token": csrf}

    url = f"/api/v1/sessions/{ids['Roomy']}/bookings"
    made = await client.post(url, json={"applicant_ids": [ann, bo]}, headers=headers)
    assert made.status == 201, await made.text()
    assert sorted(m.applicant_id or "" for m in await outbox(client, world, "assignment")) == (
        sorted([ann, bo])
    )
    twice = await client.post(url, json={"applicant_ids": [ann]}, headers=headers)
    assert twice.status == 409 and (await error_of(twice))["code"] == "already_booked"
    assert len(await outbox(client, world, "assignment")) == 2
    async with client.app[DB]() as db:
        assert await allocation.waiting(ProgramScope(db, world.a.program_id)) == []

    booking_id = next(b["id"] for b in await made.json() if b["applicant_id"] == ann)
    moved = await client.post(
        f"/api/v1/bookings/{booking_id}/move",
        json={"session_id": ids["Next week"]},
        headers=headers,
    )
    assert moved.status == 200, await moved.text()
    mails = await outbox(client, world, "assignment")
    assert len(mails) == 3
    (news,) = [m for m in mails if m.context["session"] == "Next week"]
    assert news.applicant_id == ann
