"""Application PDFs: upload checks, who may download which, and program isolation."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient

from portal.models import Booking
from tests.factories import World
from tests.web.helpers import error_of, login
from web.keys import DB

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
LIMITED = b"%PDF-1.4\nlimited\n%%EOF\n"


async def upload(
    client: TestClient,  # type: ignore[type-arg]
    applicant_id: str,
    kind: str,
    data: bytes,
    csrf: str,
) -> aiohttp.ClientResponse:
    return await client.put(
        f"/api/v1/applicants/{applicant_id}/pdf/{kind}",
        data=data,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/pdf"},
    )


async def book(
    client: TestClient,  # type: ignore[type-arg]
    program_id: str,
    session_id: str,
    applicant_id: str,
    status: str = "scheduled",
) -> None:
    async with client.app[DB]() as db, db.begin():
        db.add(
            Booking(
                program_id=program_id,
                session_id=session_id,
                applicant_id=applicant_id,
                status=status,
            )
        )


async def test_upload_and_download_by_role(client: TestClient, world: World) -> None:
    a = world.a
    csrf = await login(client, a.coordinator_email)
    response = await upload(client, a.applicant_id, "full", PDF, csrf)
    assert response.status == 200, await response.text()
    full = await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/full")
    assert full.status == 200 and await full.read() == PDF
    assert full.headers["Content-Type"] == "application/pdf"
    profile = await (await client.get(f"/api/v1/applicants/{a.applicant_id}")).json()
    assert profile["has_application_pdf"] is True and profile["has_limited_pdf"] is False

    await book(client, a.program_id, a.session_id, a.applicant_id)  # into the interviewer's session
    await login(client, a.interviewer_email)
    assert (await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/full")).status == 403
    missing = await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/limited")
    assert missing.status == 204 and await missing.read() == b""

    csrf = await login(client, a.director_email)
    form = aiohttp.FormData()
    form.add_field("file", LIMITED, filename="limited.pdf", content_type="application/pdf")
    multipart = await client.put(
        f"/api/v1/applicants/{a.applicant_id}/pdf/limited",
        data=form,
        headers={"X-CSRF-Token": csrf},
    )
    assert multipart.status == 200, await multipart.text()
    assert (await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/full")).status == 200

    await login(client, a.interviewer_email)
    limited = await client.get(f"/api/v1/applicants/{a.applicant_id}/pdf/limited")
    assert limited.status == 200 and await limited.read() == LIMITED


async def test_replacing_a_pdf_serves_the_new_one(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    await upload(client, world.a.applicant_id, "full", PDF, csrf)
    newer = PDF + b"% newer\n"
    await upload(client, world.a.applicant_id, "full", newer, csrf)
    got = await client.get(f"/api/v1/applicants/{world.a.applicant_id}/pdf/full")
    assert await got.read() == newer


async def test_upload_refusals(client: TestClient, world: World) -> None:
    csrf = await login(client, world.a.coordinator_email)
    cases = [
        (b"GIF89a not a pdf", "The file is not a PDF."),
        (b"", "The file is empty."),
        (b"%PDF-" + b"0" * (20 * 1024 * 1024 - 4), "The file is larger than 20 MB."),
    ]
    for data, message in cases:
        response = await upload(client, world.a.applicant_id, "full", data, csrf)
        assert response.status == 422, message
        error = await error_of(response)
        assert (error["code"], error["field"], error["message"]) == ("bad_pdf", "file", message)
    exactly = b"%PDF-" + b"0" * (20 * 1024 * 1024 - 5)
    assert (await upload(client, world.a.applicant_id, "full", exactly, csrf)).status == 200
    wrong_kind = await upload(client, world.a.applicant_id, "secret", PDF, csrf)
    assert wrong_kind.status == 404


async def test_other_programs_pdfs_are_not_found(client: TestClient, world: World) -> None:
    csrf_b = await login(client, world.b.coordinator_email)
    assert (await upload(client, world.b.applicant_id, "full", PDF, csrf_b)).status == 200
    csrf = await login(client, world.a.coordinator_email)
    for kind in ("full", "limited"):
        response = await client.get(f"/api/v1/applicants/{world.b.applicant_id}/pdf/{kind}")
        assert response.status == 404
        assert (await error_of(response))["code"] == "not_found"
    assert (await upload(client, world.b.applicant_id, "full", PDF, csrf)).status == 404
