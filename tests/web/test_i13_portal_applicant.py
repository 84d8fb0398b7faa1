"""The applicant's pages (issue 13): after a cancel with self-scheduling on, nobody is told
their choices are "with the coordinator"; without self-scheduling they are."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from core.scoping import ProgramScope
from portal.models import Booking
from tests.factories import World
from tests.web.test_applicant_pages import post, setup
from web.keys import DB

WITH_COORDINATOR = "Your choices are with the coordinator."


async def booking_ids(client: TestClient, world: World) -> list[str]:  # type: ignore[type-arg]
    async with client.app[DB]() as db:
        rows = await ProgramScope(db, world.a.program_id).all(
            Booking, Booking.applicant_id == world.a.applicant_id
        )
    return [b.id for b in rows]


async def test_after_a_cancel_self_scheduling_says_choose_again(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    ids = await setup(client, world)
    chosen = await post(client, action="choose", first=ids["Roomy"])
    assert chosen.status == 303 and "notice=booked" in chosen.headers["Location"]
    (booking_id,) = await booking_ids(client, world)
    cancelled = await post(client, action="cancel", booking_id=booking_id)
    assert cancelled.status == 303 and "notice=cancelled" in cancelled.headers["Location"]
    html = await (await client.get(cancelled.headers["Location"])).text()
    assert "Your seat is cancelled." in html
    assert WITH_COORDINATOR not in html
    assert "Choose a session on the" in html


async def test_without_self_scheduling_the_choices_are_with_the_coordinator(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    ids = await setup(client, world, self_scheduling=False)
    chosen = await post(client, action="choose", first=ids["Roomy"], second=ids["Tiny"])
    assert chosen.status == 303 and "notice=choices" in chosen.headers["Location"]
    html = await (await client.get("/applicant")).text()
    assert WITH_COORDINATOR in html
