"""Meeting rooms: welcome, lunch, debrief; open to applicants, staff or both for a time window."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import get_args
from urllib.parse import urlsplit

from core.errors import NotFound, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from rooms.models import Audience, InterviewSession, MeetingRoom

AUDIENCES: tuple[str, ...] = get_args(Audience)
NAME_MAX = 120
URL_MAX = 500
EARLIEST_YEAR = 2000
LATEST_YEAR = 2199


@dataclass(frozen=True)
class MeetingSpec:
    name: str
    starts_at: datetime
    ends_at: datetime
    audience: str = "both"
    external_url: str | None = None
    session_id: str | None = None


def validate_meeting(spec: MeetingSpec) -> MeetingSpec:
    """Returns the trimmed spec, or raises `ValidationFailed` naming the first bad field."""
    spec = replace(
        spec,
        name=spec.name.strip(),
        external_url=(spec.external_url or "").strip() or None,
        session_id=spec.session_id or None,
    )
    if not spec.name:
        raise ValidationFailed("Give the meeting room a name.", field="name")
    if len(spec.name) > NAME_MAX:
        raise ValidationFailed(f"Keep the name under {NAME_MAX} characters.", field="name")
    check_text(spec.name, field="name", max_length=NAME_MAX, label="The name")
    check_text(spec.external_url or "", field="external_url", max_length=10_000, label="The link")
    for field in ("starts_at", "ends_at"):
        moment = getattr(spec, field)
        if moment.tzinfo is None:
            raise ValidationFailed("Give the time with its time zone.", field=field)
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            # Far years would overflow when converted to UTC.
            raise ValidationFailed(
                f"Choose a time between {EARLIEST_YEAR} and {LATEST_YEAR}.", field=field
            )
    spec = replace(
        spec, starts_at=spec.starts_at.astimezone(UTC), ends_at=spec.ends_at.astimezone(UTC)
    )
    if spec.ends_at <= spec.starts_at:
        raise ValidationFailed("The room must close after it opens.", field="ends_at")
    if spec.audience not in AUDIENCES:
        raise ValidationFailed(
            f"The audience must be one of {', '.join(AUDIENCES)}.", field="audience"
        )
    if spec.external_url is not None:
        check_external_url(spec.external_url)
    return spec


def check_external_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationFailed(
            "The link must be a full https:// address, such as https://zoom.us/j/123.",
            field="external_url",
        )
    if len(url) > URL_MAX:
        raise ValidationFailed(f"Keep the link under {URL_MAX} characters.", field="external_url")


async def list_meetings(scope: ProgramScope, session_id: str | None = None) -> list[MeetingRoom]:
    criteria = [] if session_id is None else [MeetingRoom.session_id == session_id]
    statement = scope.select(MeetingRoom, *criteria).order_by(
        MeetingRoom.starts_at, MeetingRoom.name
    )
    return list((await scope.db.scalars(statement)).all())


async def _check_session(scope: ProgramScope, session_id: str | None) -> None:
    if session_id is not None and await scope.find(InterviewSession, session_id) is None:
        raise NotFound(f"No session with id {session_id!r}", field="session_id")


async def create_meeting(scope: ProgramScope, spec: MeetingSpec) -> MeetingRoom:
    spec = validate_meeting(spec)
    await _check_session(scope, spec.session_id)
    meeting = scope.add(MeetingRoom(name=spec.name, starts_at=spec.starts_at, ends_at=spec.ends_at))
    _apply(meeting, spec)
    await scope.db.flush()
    return meeting


async def update_meeting(scope: ProgramScope, meeting_id: str, spec: MeetingSpec) -> MeetingRoom:
    meeting = await scope.get(MeetingRoom, meeting_id, what="meeting room")
    spec = validate_meeting(spec)
    await _check_session(scope, spec.session_id)
    _apply(meeting, spec)
    await scope.db.flush()
    return meeting


def _apply(meeting: MeetingRoom, spec: MeetingSpec) -> None:
    meeting.name = spec.name
    meeting.starts_at = spec.starts_at
    meeting.ends_at = spec.ends_at
    meeting.audience = spec.audience
    meeting.external_url = spec.external_url
    meeting.session_id = spec.session_id


async def delete_meeting(scope: ProgramScope, meeting_id: str) -> MeetingRoom:
    meeting = await scope.get(MeetingRoom, meeting_id, what="meeting room")
    await scope.db.delete(meeting)
    await scope.db.flush()
    return meeting
