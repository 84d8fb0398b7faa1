"""Limited PDFs: an interviewer opens them only for the applicants they meet.

The rule (web/api/applicant_files.py `interviews_applicant`): the applicant holds a seat
(booking "scheduled") in a session where the interviewer sits in a room, or an itinerary puts
the applicant in one of the interviewer's rooms. Anyone else's PDF answers exactly like an
unknown applicant (404 not_found), so an interviewer cannot probe who applied. Directors and
coordinators are unchanged.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from portal.models import Booking, Staff
from rooms.models import RoomInterviewer
from tests.factories import World, itinerary_with, password_hash
from tests.web.helpers import error_of, login
from tests.web.test_people_pdfs_api import LIMITED, upload
from web.keys import DB


async def limited_status(client: TestClient, applicant_id: str) -> tuple[int, dict[str, object]]:  # type: ignore[type-arg]
    response = await client.get(f"/api/v1/applicants/{applicant_id}/pdf/limited")
    if response.status == 200:
        assert await response.read() == LIMITED
        return 200, {}
    error = await error_of(response)
    error.pop("message")  # names the id asked for; the rest must not differ
    return response.status, error


async def test_an_interviewer_opens_only_their_applicants_limited_pdf(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    a = world.a
    csrf = await login(client, a.coordinator_email)
    for applicant_id in (a.applicant_id, a.other_applicant_id):
        assert (await upload(client, applicant_id, "limited", LIMITED, csrf)).status == 200
    async with client.app[DB]() as db, db.begin():
        colleague = Staff(
            program_id=a.program_id,
            email="colleague@a.test",
            name="Colleague",
            role="interviewer",
            password_hash=password_hash(),
        )
        db.add(colleague)

    unknown = await limited_status(client, "no-such-applicant")
    await login(client, a.interviewer_email)
    # Not booked anywhere: the same answer as an id that does not exist.
    assert await limited_status(client, a.applicant_id) == unknown
    assert unknown == (404, {"code": "not_found", "field": "id"})

    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=a.program_id,
                session_id=a.session_id,
                applicant_id=a.applicant_id,
                status="waitlisted",
            )
        )
    assert await limited_status(client, a.applicant_id) == unknown  # a waitlist is no seat

    async with client.app[DB]() as db, db.begin():
        booking = (await db.execute(Booking.__table__.select())).first()
        assert booking is not None
        row = await db.get(Booking, booking.id)
        assert row is not None
        row.status = "scheduled"
    assert await limited_status(client, a.applicant_id) == (200, {})
    # Booked in my session is not "booked anywhere": the other applicant stays hidden.
    assert await limited_status(client, a.other_applicant_id) == unknown

    # An itinerary that puts the other applicant in my room opens theirs too.
    async with client.app[DB]() as db, db.begin():
        await itinerary_with(
            db,
            program_id=a.program_id,
            session_id=a.session_id,
            room_id=a.room_id,
            applicant_id=a.other_applicant_id,
        )
    assert await limited_status(client, a.other_applicant_id) == (200, {})

    # A colleague in no room of that session sees neither; once in the room, both.
    await login(client, "colleague@a.test")
    assert await limited_status(client, a.applicant_id) == unknown
    assert await limited_status(client, a.other_applicant_id) == unknown
    async with client.app[DB]() as db, db.begin():
        db.add(RoomInterviewer(program_id=a.program_id, room_id=a.room_id, staff_id=colleague.id))
    assert await limited_status(client, a.applicant_id) == (200, {})
    assert await limited_status(client, a.other_applicant_id) == (200, {})


async def test_directors_and_coordinators_open_every_limited_pdf(
    client: TestClient,  # type: ignore[type-arg]
    world: World,
) -> None:
    a = world.a
    csrf = await login(client, a.coordinator_email)
    assert (await upload(client, a.other_applicant_id, "limited", LIMITED, csrf)).status == 200
    assert await limited_status(client, a.other_applicant_id) == (200, {})
    await login(client, a.director_email)
    assert await limited_status(client, a.other_applicant_id) == (200, {})
    # Another program's interviewer learns nothing either.
    await login(client, world.b.interviewer_email)
    assert (await limited_status(client, a.other_applicant_id))[0] == 404
