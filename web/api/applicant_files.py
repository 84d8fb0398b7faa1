"""Applicants' application PDFs: upload (raw body or multipart), download by permission.

Files live under `var_dir/uploads/<program id>/`; the database keeps the path relative to
`uploads`, so the data folder can move.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy
from sqlalchemy import exists, select

from core.errors import NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal.models import Applicant, Booking
from portal.people import MAX_PDF_BYTES, PdfKind, attach_pdf, pdf_problem
from portal.permissions import Actor, allowed
from rooms.models import Interview, Room, RoomInterviewer
from web.api.framework import Api, Call
from web.input_guard import unreadable_body_is_400
from web.keys import SETTINGS

api = Api()
CHUNK = 64 * 1024
KINDS: dict[str, PdfKind] = {"full": "full", "limited": "limited"}


def uploads_dir(app: web.Application) -> Path:
    return Path(app[SETTINGS].var_dir) / "uploads"


def stored_path(app: web.Application, stored_name: str) -> Path:
    root = uploads_dir(app).resolve()
    path = (root / stored_name).resolve()
    if not path.is_relative_to(root):
        raise NotFound("No such file.")
    return path


async def read_limited(chunks: AsyncIterator[bytes]) -> bytes:
    """Reads at most one byte more than the limit, so a huge upload is refused early."""
    data = bytearray()
    async for chunk in chunks:
        data.extend(chunk)
        if len(data) > MAX_PDF_BYTES:
            break
    return bytes(data)


async def _file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := file.read(CHUNK):
        yield chunk


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def pdf_from_form(form: MultiDictProxy[str | bytes | web.FileField], name: str) -> bytes:
    field = form.get(name)
    if not isinstance(field, web.FileField):
        raise ValidationFailed("Choose a PDF file to upload.", field=name)
    return await read_limited(_file_chunks(field.file))


async def pdf_from_request(request: web.Request) -> bytes:
    """The PDF of an API upload: the raw body (application/pdf) or the multipart field `file`."""
    if request.content_type == "multipart/form-data":
        with unreadable_body_is_400("upload"):
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader) and part.name == "file":
                    data = await read_limited(_part_chunks(part))
                    if len(data) <= MAX_PDF_BYTES:
                        # Reads on to the closing boundary: an upload cut off midway (the
                        # part ends where the stream does) is refused, not stored.
                        await reader.release()
                    return data
        raise ValidationFailed("Send the PDF in a form field named 'file'.", field="file")
    return await read_limited(request.content.iter_chunked(CHUNK))


async def save_pdf(
    app: web.Application,
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    kind: PdfKind,
    data: bytes,
    *,
    field: str = "file",
) -> None:
    """Validates and stores the PDF, points the applicant at it and removes the replaced one."""
    problem = pdf_problem(data[:8], len(data))
    if problem:
        raise ValidationFailed(problem, field=field, code="bad_pdf")
    name = f"{applicant.program_id}/{applicant.id}-{kind}-{secrets.token_hex(8)}.pdf"
    await asyncio.to_thread(_write, stored_path(app, name), data)
    previous = attach_pdf(scope, actor, applicant, kind, name)
    if previous:
        await asyncio.to_thread(_unlink, stored_path(app, previous))


async def remove_files(app: web.Application, applicant: Applicant) -> None:
    for name in (applicant.application_pdf, applicant.limited_pdf):
        if name:
            await asyncio.to_thread(_unlink, stored_path(app, name))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def pdf_response(app: web.Application, applicant: Applicant, kind: PdfKind) -> web.StreamResponse:
    """The PDF, or 204 No Content when none was uploaded (docs/protocol.md: "204 / file"): an
    applicant without a PDF is an ordinary state, not an error, and a page can ask cheaply
    (`Range: bytes=0-0`) whether there is one to link to."""
    name = applicant.application_pdf if kind == "full" else applicant.limited_pdf
    label = "application" if kind == "full" else "limited application"
    if not name:
        return web.Response(status=204, headers={"Cache-Control": "private, no-store"})
    path = stored_path(app, name)
    if not path.is_file():
        raise NotFound(f"The {label} PDF file is missing on the server.", code="no_pdf")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": content_disposition(
                (applicant.last_name, applicant.first_name, kind)
            ),
            "Cache-Control": "private, no-store",
        },
    )


def content_disposition(parts: tuple[str, ...]) -> str:
    """An inline disposition whose file name no stored name can break: ASCII for old clients,
    the real name percent-encoded (RFC 6266) for the others."""
    name = "-".join(part.strip() for part in parts if part.strip()) + ".pdf"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _kind(call: Call) -> PdfKind:
    kind = KINDS.get(call.path("kind"))
    if kind is None:
        raise NotFound("Use full or limited.", field="kind")
    return kind


@api.route(
    "PUT",
    "/applicants/{applicant_id}/pdf/{kind:full|limited}",
    summary="Upload an application PDF (kind: full or limited); raw body or multipart 'file'",
    tags=("applicants",),
    permission="applicants.write",
    response=None,
)
async def upload_pdf(call: Call) -> web.StreamResponse:
    kind = _kind(call)
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    data = await pdf_from_request(call.request)
    await save_pdf(call.request.app, call.scope, call.staff, applicant, kind, data)
    return web.json_response(
        {"applicant_id": applicant.id, "kind": kind, "size": len(data)}, status=200
    )


@api.route(
    "GET",
    "/applicants/{applicant_id}/pdf/full",
    summary="Download the full application PDF",
    tags=("applicants",),
    permission="applicants.pdf_full",
)
async def download_full(call: Call) -> web.StreamResponse:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    return pdf_response(call.request.app, applicant, "full")


@api.route(
    "GET",
    "/applicants/{applicant_id}/pdf/limited",
    summary="Download the limited application PDF (what interviewers see)",
    tags=("applicants",),
    permission="applicants.pdf_limited",
)
async def download_limited(call: Call) -> web.StreamResponse:
    applicant = await call.scope.get(Applicant, call.path("applicant_id"), what="applicant")
    if not allowed(call.staff, "applicants.pdf_full") and not await interviews_applicant(
        call.scope, call.staff.id, applicant.id
    ):
        # The same answer as an unknown id: nobody learns which applicants exist by probing.
        raise NotFound(f"No applicant with id {applicant.id!r}", field="id")
    return pdf_response(call.request.app, applicant, "limited")


async def interviews_applicant(scope: ProgramScope, staff_id: str, applicant_id: str) -> bool:
    """Whether the interviewer meets this applicant: the applicant holds a seat (booking
    "scheduled") in a session where the interviewer sits in a room, or an itinerary puts the
    applicant in one of the interviewer's rooms. Staff who may read the full PDF (directors,
    coordinators) never need this."""
    mine = select(RoomInterviewer.room_id).where(
        RoomInterviewer.program_id == scope.program_id, RoomInterviewer.staff_id == staff_id
    )
    my_sessions = select(Room.session_id).where(
        Room.program_id == scope.program_id, Room.id.in_(mine)
    )
    booked = select(Booking.id).where(
        Booking.program_id == scope.program_id,
        Booking.applicant_id == applicant_id,
        Booking.status == "scheduled",
        Booking.session_id.in_(my_sessions),
    )
    interviewed = select(Interview.id).where(
        Interview.program_id == scope.program_id,
        Interview.applicant_id == applicant_id,
        Interview.room_id.in_(mine),
    )
    found = await scope.db.scalar(select(exists(booked) | exists(interviewed)))
    return bool(found)
