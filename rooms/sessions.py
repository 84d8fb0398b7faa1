"""Sessions, their rounds and rooms: creating, changing, validating, copying.

The checks an interview day needs before it can run live here; each raises `ValidationFailed`
naming the field, or `Conflict` when the data is fine but clashes with what already exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from rooms.models import SESSION_MODES, InterviewSession, Room, RoomInterviewer, Round

MAX_CAPACITY = 10_000
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2199, 12, 31)


@dataclass(frozen=True)
class Break:
    after_round: int
    minutes: int


@dataclass(frozen=True)
class SessionSpec:
    name: str
    date: date
    start_time: time
    timezone: str
    mode: str = "native"
    rounds: int = 4
    interview_minutes: int = 20
    review_minutes: int = 5
    breaks: tuple[Break, ...] = ()
    capacity: int = 0
    visible: bool = False
    manual_mode: bool = False
    knock_minutes: int = 2


@dataclass(frozen=True)
class RoomSpec:
    name: str
    interviewer_ids: tuple[str, ...]
    external_url: str | None = None
    scoring_form_id: str | None = None


def day_minutes(spec_rounds: int, interview: int, review: int, breaks: Sequence[Break]) -> int:
    return spec_rounds * (interview + review) + sum(b.minutes for b in breaks)


def session_window(session: InterviewSession, rounds: Sequence[Round]) -> tuple[datetime, datetime]:
    """Start and end as aware datetimes in the session's own time zone."""
    start = datetime.combine(session.date, session.start_time, tzinfo=ZoneInfo(session.timezone))
    breaks = [Break(r.number, r.break_after_minutes) for r in rounds]
    minutes = day_minutes(len(rounds), session.interview_minutes, session.review_minutes, breaks)
    return start, start + timedelta(minutes=minutes)


def check_spec(spec: SessionSpec) -> None:
    """The rules a session's own settings must follow (pure)."""
    if not spec.name.strip():
        raise ValidationFailed("Give the session a name.", field="name")
    check_text(spec.name, field="name", max_length=200, label="The session's name")
    if not EARLIEST_DATE <= spec.date <= LATEST_DATE:
        raise ValidationFailed(
            f"Choose a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}.", field="date"
        )
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a name too long
        raise ValidationFailed(
            f"{spec.timezone!r} is not a time zone (use a name like America/New_York).",
            field="timezone",
        ) from None
    if spec.mode not in SESSION_MODES:
        raise ValidationFailed(f"Mode must be one of {', '.join(SESSION_MODES)}.", field="mode")
    if not 1 <= spec.rounds <= 40:
        raise ValidationFailed("A session has between 1 and 40 rounds.", field="rounds")
    if not 1 <= spec.interview_minutes <= 240:
        raise ValidationFailed(
            "Interview minutes must be between 1 and 240.", field="interview_minutes"
        )
    if not 0 <= spec.review_minutes <= 120:
        raise ValidationFailed("Review minutes must be between 0 and 120.", field="review_minutes")
    if not 0 <= spec.capacity <= MAX_CAPACITY:
        raise ValidationFailed(
            f"Capacity is between 0 (no limit) and {MAX_CAPACITY}.", field="capacity"
        )
    if not 0 <= spec.knock_minutes < spec.interview_minutes:
        raise ValidationFailed(
            "The knock comes before the end of the interview: use fewer minutes than the "
            "interview lasts.",
            field="knock_minutes",
        )
    seen: set[int] = set()
    for item in spec.breaks:
        if not 1 <= item.after_round < spec.rounds:
            raise ValidationFailed(
                f"A break after round {item.after_round} is not between two rounds "
                f"(rounds 1-{spec.rounds}).",
                field="breaks",
            )
        if item.after_round in seen:
            raise ValidationFailed(f"Two breaks after round {item.after_round}.", field="breaks")
        if not 1 <= item.minutes <= 240:
            raise ValidationFailed("A break lasts between 1 and 240 minutes.", field="breaks")
        seen.add(item.after_round)
    total = day_minutes(spec.rounds, spec.interview_minutes, spec.review_minutes, spec.breaks)
    start = datetime.combine(spec.date, spec.start_time)
    if (start + timedelta(minutes=total)).date() != spec.date:
        raise ValidationFailed("The session would run past midnight.", field="rounds")


async def save_session(
    scope: ProgramScope,
    spec: SessionSpec,
    session: InterviewSession | None = None,
    *,
    booked: int = 0,
    staff_names: Mapping[str, str],
) -> InterviewSession:
    """`booked` (seats taken) and `staff_names` come from the portal, which rooms cannot read."""
    check_spec(spec)
    if session is None:
        session = scope.add(
            InterviewSession(
                name=spec.name, date=spec.date, start_time=spec.start_time, timezone=spec.timezone
            )
        )
        await scope.db.flush()
    else:
        if spec.capacity < booked:
            raise ValidationFailed(
                f"Capacity {spec.capacity} is below the {booked} applicants already booked.",
                field="capacity",
            )
    for name in (
        "name",
        "date",
        "start_time",
        "timezone",
        "mode",
        "interview_minutes",
        "review_minutes",
        "capacity",
        "visible",
        "manual_mode",
        "knock_minutes",
    ):
        setattr(session, name, getattr(spec, name))
    session.name = spec.name.strip()
    await _set_rounds(scope, session.id, spec.rounds, spec.breaks)
    if spec.mode == "native":
        rooms = await scope.all(Room, Room.session_id == session.id, Room.external_url.is_not(None))
        if rooms:
            raise ValidationFailed(
                f"{rooms[0].name} has an external link; a native session uses our own video. "
                "Remove the link or choose the external mode.",
                field="mode",
            )
    await check_interviewer_overlaps(scope, session, staff_names)
    await scope.db.flush()
    return session


async def _set_rounds(
    scope: ProgramScope, session_id: str, count: int, breaks: Sequence[Break]
) -> None:
    await scope.db.execute(delete(Round).where(Round.session_id == session_id))
    minutes = {b.after_round: b.minutes for b in breaks}
    for number in range(1, count + 1):
        scope.add(
            Round(session_id=session_id, number=number, break_after_minutes=minutes.get(number, 0))
        )
    await scope.db.flush()


async def rounds_of(scope: ProgramScope, session_id: str) -> list[Round]:
    rows = await scope.all(Round, Round.session_id == session_id)
    return sorted(rows, key=lambda r: r.number)


async def rooms_of(scope: ProgramScope, session_id: str) -> list[Room]:
    rows = await scope.all(Room, Room.session_id == session_id)
    return sorted(rows, key=lambda r: (r.position, r.name))


async def interviewers_by_room(scope: ProgramScope, session_id: str) -> dict[str, list[str]]:
    rows = await scope.db.execute(
        scope.select(RoomInterviewer)
        .join(Room, Room.id == RoomInterviewer.room_id)
        .where(Room.session_id == session_id)
        .with_only_columns(RoomInterviewer.room_id, RoomInterviewer.staff_id)
    )
    found: dict[str, list[str]] = {}
    for room_id, staff_id in rows.tuples():
        found.setdefault(room_id, []).append(staff_id)
    return found


@dataclass(frozen=True)
class SessionLayout:
    """A session's rounds (by number), rooms (by position) and who sits in each room."""

    rounds: list[Round]
    rooms: list[Room]
    interviewers: dict[str, list[str]]


async def session_layouts(
    scope: ProgramScope, session_ids: Sequence[str]
) -> dict[str, SessionLayout]:
    """`rounds_of`, `rooms_of` and `interviewers_by_room` for many sessions in three queries."""
    ids = list(session_ids)
    rounds = await scope.all(Round, Round.session_id.in_(ids))
    rooms = await scope.all(Room, Room.session_id.in_(ids))
    seated = await scope.db.execute(
        scope.select(RoomInterviewer)
        .join(Room, Room.id == RoomInterviewer.room_id)
        .where(Room.session_id.in_(ids))
        .with_only_columns(RoomInterviewer.room_id, RoomInterviewer.staff_id)
    )
    interviewers: dict[str, list[str]] = {}
    for room_id, staff_id in seated.tuples():
        interviewers.setdefault(room_id, []).append(staff_id)
    layouts = {}
    for session_id in ids:
        own_rooms = sorted(
            (r for r in rooms if r.session_id == session_id), key=lambda r: (r.position, r.name)
        )
        layouts[session_id] = SessionLayout(
            rounds=sorted(
                (r for r in rounds if r.session_id == session_id), key=lambda r: r.number
            ),
            rooms=own_rooms,
            interviewers={r.id: interviewers[r.id] for r in own_rooms if r.id in interviewers},
        )
    return layouts


async def save_room(
    scope: ProgramScope,
    session: InterviewSession,
    spec: RoomSpec,
    room: Room | None = None,
    *,
    staff_names: Mapping[str, str],
    known_forms: set[str],
) -> Room:
    if not spec.name.strip():
        raise ValidationFailed("Give the room a name.", field="name")
    check_text(spec.name, field="name", max_length=120, label="The room's name")
    check_text(spec.external_url or "", field="external_url", max_length=500, label="The link")
    if not spec.interviewer_ids:
        raise ValidationFailed(
            f"{spec.name} has no interviewers: choose at least one.", field="interviewer_ids"
        )
    unknown = [s for s in spec.interviewer_ids if s not in staff_names]
    if unknown:
        raise ValidationFailed(
            "Choose interviewers from this program's active staff.", field="interviewer_ids"
        )
    if spec.external_url and session.mode == "native":
        raise ValidationFailed(
            "A native session uses our own video: remove the external link or change the "
            "session's mode to external.",
            field="external_url",
        )
    if spec.external_url and not spec.external_url.startswith(("https://", "http://")):
        raise ValidationFailed("The external link must start with https://.", field="external_url")
    if spec.scoring_form_id and spec.scoring_form_id not in known_forms:
        raise ValidationFailed(
            "Choose one of this program's scoring forms.", field="scoring_form_id"
        )
    if room is None:
        position = len(await rooms_of(scope, session.id))
        room = scope.add(Room(session_id=session.id, name=spec.name, position=position))
        await scope.db.flush()
    room.name = spec.name.strip()
    room.external_url = spec.external_url or None
    room.scoring_form_id = spec.scoring_form_id or None
    await scope.db.execute(delete(RoomInterviewer).where(RoomInterviewer.room_id == room.id))
    for staff_id in dict.fromkeys(spec.interviewer_ids):
        scope.add(RoomInterviewer(room_id=room.id, staff_id=staff_id))
    await scope.db.flush()
    await check_interviewer_overlaps(scope, session, staff_names)
    return room


async def check_interviewer_overlaps(
    scope: ProgramScope, session: InterviewSession, staff_names: Mapping[str, str]
) -> None:
    """Nobody interviews in two rooms at once: in this session or an overlapping one."""
    mine = await interviewers_by_room(scope, session.id)
    room_names = {r.id: r.name for r in await rooms_of(scope, session.id)}
    seen: dict[str, str] = {}
    for room_id, staff_ids in sorted(mine.items(), key=lambda kv: room_names.get(kv[0], "")):
        for staff_id in staff_ids:
            if staff_id in seen and seen[staff_id] != room_id:
                name = staff_names.get(staff_id, "An interviewer")
                raise Conflict(
                    f"{name} is in two rooms at once: {room_names[seen[staff_id]]} and "
                    f"{room_names[room_id]}.",
                    field="interviewer_ids",
                    code="interviewer_double_booked",
                )
            seen[staff_id] = room_id
    if not seen:
        return
    start, end = session_window(session, await rounds_of(scope, session.id))
    others = await scope.all(
        InterviewSession,
        InterviewSession.id != session.id,
        InterviewSession.date.between(
            session.date - timedelta(days=1), session.date + timedelta(days=1)
        ),
    )
    for other in others:
        other_start, other_end = session_window(other, await rounds_of(scope, other.id))
        if other_start >= end or start >= other_end:
            continue
        theirs = await interviewers_by_room(scope, other.id)
        for staff_ids in theirs.values():
            for staff_id in staff_ids:
                if staff_id in seen:
                    name = staff_names.get(staff_id, "An interviewer")
                    raise Conflict(
                        f"{name} also interviews in {other.name}, which overlaps this session.",
                        field="interviewer_ids",
                        code="interviewer_overlap",
                    )


async def delete_room(scope: ProgramScope, room: Room) -> None:
    await scope.db.delete(room)
    await scope.db.flush()


async def copy_session(
    scope: ProgramScope,
    source: InterviewSession,
    dates: Sequence[date],
    staff_names: Mapping[str, str],
) -> list[InterviewSession]:
    """Copies settings, rounds, breaks and rooms with their interviewers; never bookings."""
    if not dates:
        raise ValidationFailed("Choose at least one date to copy to.", field="dates")
    if len(set(dates)) != len(dates):
        raise ValidationFailed("The same date is listed twice.", field="dates")
    rounds = await rounds_of(scope, source.id)
    rooms = await rooms_of(scope, source.id)
    staff = await interviewers_by_room(scope, source.id)
    copies = []
    for day in dates:
        if day == source.date:
            raise ValidationFailed(
                "Copy to a different date than the session's own.", field="dates"
            )
        copy = scope.add(
            InterviewSession(
                name=source.name,
                date=day,
                start_time=source.start_time,
                timezone=source.timezone,
                mode=source.mode,
                interview_minutes=source.interview_minutes,
                review_minutes=source.review_minutes,
                capacity=source.capacity,
                visible=False,
                manual_mode=source.manual_mode,
                knock_minutes=source.knock_minutes,
                instructions_file=source.instructions_file,
            )
        )
        await scope.db.flush()
        for r in rounds:
            scope.add(
                Round(
                    session_id=copy.id, number=r.number, break_after_minutes=r.break_after_minutes
                )
            )
        for room in rooms:
            new_room = scope.add(
                Room(
                    session_id=copy.id,
                    name=room.name,
                    position=room.position,
                    external_url=room.external_url,
                    scoring_form_id=room.scoring_form_id,
                )
            )
            await scope.db.flush()
            for staff_id in staff.get(room.id, []):
                scope.add(RoomInterviewer(room_id=new_room.id, staff_id=staff_id))
        await scope.db.flush()
        await check_interviewer_overlaps(scope, copy, staff_names)
        copies.append(copy)
    return copies


async def delete_session(scope: ProgramScope, session: InterviewSession, booked: int) -> None:
    if booked:
        raise Conflict(
            "Applicants are booked into this session; move or remove them first.",
            code="session_has_bookings",
        )
    await scope.db.delete(session)
    await scope.db.flush()


async def count_rooms(scope: ProgramScope, session_id: str) -> int:
    return int(
        await scope.db.scalar(
            scope.select(Room).with_only_columns(func.count()).where(Room.session_id == session_id)
        )
        or 0
    )


def round_starts(session: InterviewSession, rounds: Sequence[Round]) -> dict[int, datetime]:
    """When each round's interview begins, in the session's time zone (pure)."""
    start, _ = session_window(session, rounds)
    starts: dict[int, datetime] = {}
    at = start
    for r in sorted(rounds, key=lambda r: r.number):
        starts[r.number] = at
        at += timedelta(
            minutes=session.interview_minutes + session.review_minutes + r.break_after_minutes
        )
    return starts
