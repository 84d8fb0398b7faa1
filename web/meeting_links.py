"""The meeting rooms an applicant may enter (a welcome, lunch, a social), for their pages and
their emails.

A room is open to applicants when its audience is "applicants" or "both" (the rule the live
page and the join endpoint apply). An applicant is shown the rooms not yet over that belong
to a session they hold a seat in, and the program-wide ones (no session) while they are
invited or scheduled. A session's emails list that session's rooms and the program-wide ones
open on the session's day, in the session's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_

from core.scoping import ProgramScope
from portal import mail
from portal.models import Applicant, Booking
from portal.scheduling import SessionInfo
from rooms.models import MeetingRoom

APPLICANT_AUDIENCES = ("applicants", "both")
HEADING = "Meeting rooms open to you (also listed on your page):"
SEES_PROGRAM_ROOMS = frozenset({"invited", "scheduled"})


@dataclass(frozen=True)
class MeetingLink:
    id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    session_id: str | None

    @property
    def path(self) -> str:
        return f"/live/meeting-rooms/{self.id}"


def _link(room: MeetingRoom) -> MeetingLink:
    return MeetingLink(room.id, room.name, room.starts_at, room.ends_at, room.session_id)


async def _open_rooms(scope: ProgramScope, now: datetime, *criteria: object) -> list[MeetingLink]:
    statement = scope.select(
        MeetingRoom,
        MeetingRoom.audience.in_(APPLICANT_AUDIENCES),
        MeetingRoom.ends_at > now,
        *criteria,
    ).order_by(MeetingRoom.starts_at, MeetingRoom.name, MeetingRoom.id)
    return [_link(room) for room in await scope.db.scalars(statement)]


async def for_applicant(
    scope: ProgramScope, applicant: Applicant, now: datetime
) -> list[MeetingLink]:
    """The rooms this applicant may enter now or later, earliest first."""
    seats = await scope.all(
        Booking, Booking.applicant_id == applicant.id, Booking.status == "scheduled"
    )
    sessions = [b.session_id for b in seats]
    wanted = [MeetingRoom.session_id.in_(sessions)] if sessions else []
    if applicant.status in SEES_PROGRAM_ROOMS:
        wanted.append(MeetingRoom.session_id.is_(None))
    if not wanted:
        return []
    return await _open_rooms(scope, now, or_(*wanted))


async def for_session(
    scope: ProgramScope, session: SessionInfo, now: datetime
) -> list[MeetingLink]:
    """The rooms for this session's applicants: its own, and program-wide rooms open on its
    day (midnight to midnight where the session is held)."""
    zone = ZoneInfo(session.timezone)
    local = session.starts_at.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    return await _open_rooms(
        scope,
        now,
        or_(
            MeetingRoom.session_id == session.id,
            MeetingRoom.session_id.is_(None)
            & (MeetingRoom.starts_at < day_end)
            & (MeetingRoom.ends_at > day_start),
        ),
    )


def email_text(links: list[MeetingLink], timezone: str, public_url: str) -> str:
    """The `{{ meeting_rooms }}` merge value: one line per room with its time and address, or
    nothing at all when no room is open to the applicant."""
    if not links:
        return ""
    zone = ZoneInfo(timezone)
    lines = [HEADING]
    for link in links:
        start = mail.format_when(link.starts_at.astimezone(zone), timezone)
        end = link.ends_at.astimezone(zone)
        lines.append(f"- {link.name}: {start} to {end:%H:%M}, {public_url.rstrip('/')}{link.path}")
    return "\n".join(lines)
