"""Sessions, their rooms, copying, and the itinerary (generate, edit one slot, publish)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.errors import NotFound
from core.scoping import ProgramScope
from portal.audit import record
from portal.bookings import SessionSeats, booked_count, occupancy
from rooms import itineraries
from rooms.models import InterviewSession, Itinerary, Room
from rooms.sessions import (
    Break,
    RoomSpec,
    SessionLayout,
    SessionSpec,
    copy_session,
    delete_room,
    delete_session,
    interviewers_by_room,
    rounds_of,
    save_room,
    save_session,
    session_layouts,
    session_window,
)
from web.api.fields import Day, Name, Round, RowId, ShortText, SingleLine
from web.api.finalize import announce_itinerary
from web.api.framework import Api, Call
from web.keys import CLOCK
from web.session_data import (
    active_staff_names,
    applicant_names,
    booked_applicant_ids,
    form_ids,
)

api = Api()


class BreakIn(BaseModel):
    after_round: Round
    minutes: int = Field(ge=1, le=240)


class SessionIn(BaseModel):
    name: Name
    date: Day
    start_time: time
    timezone: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")
    mode: Literal["native", "external", "scoring-only"] = "native"
    rounds: int = Field(default=4, ge=1, le=40)
    interview_minutes: int = Field(default=20, ge=1, le=240)
    review_minutes: int = Field(default=5, ge=0, le=120)
    breaks: list[BreakIn] = Field(default_factory=list, max_length=40)
    capacity: int = Field(default=0, ge=0, le=10_000, description="0: no limit")
    visible: bool = False
    manual_mode: bool = False
    knock_minutes: int = Field(default=2, ge=0, le=240)

    def spec(self) -> SessionSpec:
        return SessionSpec(
            name=self.name,
            date=self.date,
            start_time=self.start_time,
            timezone=self.timezone,
            mode=self.mode,
            rounds=self.rounds,
            interview_minutes=self.interview_minutes,
            review_minutes=self.review_minutes,
            breaks=tuple(Break(b.after_round, b.minutes) for b in self.breaks),
            capacity=self.capacity,
            visible=self.visible,
            manual_mode=self.manual_mode,
            knock_minutes=self.knock_minutes,
        )


class RoomIn(BaseModel):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), SingleLine
    ]
    interviewer_ids: list[RowId] = Field(default_factory=list, max_length=100)
    external_url: ShortText | None = None
    scoring_form_id: RowId | None = None


class RoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    session_id: str
    name: str
    position: int
    external_url: str | None
    scoring_form_id: str | None
    interviewer_ids: list[str] = Field(default_factory=list)


class SessionOut(BaseModel):
    id: str
    name: str
    date: date
    start_time: time
    end_time: time
    starts_at: datetime
    ends_at: datetime
    timezone: str
    mode: str
    rounds: int
    interview_minutes: int
    review_minutes: int
    breaks: list[BreakIn]
    capacity: int
    booked: int
    visible: bool
    manual_mode: bool
    knock_minutes: int
    has_instructions: bool
    rooms: list[RoomOut]


class CopyIn(BaseModel):
    dates: list[Day] = Field(min_length=1, max_length=60)


class SlotOut(BaseModel):
    round: int
    room_id: str
    applicant_id: str
    applicant_name: str
    status: str


class ItineraryOut(BaseModel):
    id: str
    session_id: str
    version: int
    status: str
    published_at: datetime | None
    rounds: int
    slots: list[SlotOut]


class EditIn(BaseModel):
    kind: Literal["move", "swap"]
    round: Round
    applicant_id: RowId
    other_applicant_id: RowId | None = None
    room_id: RowId | None = None


class ChangeOut(BaseModel):
    message: str
    round_number: int
    applicant_id: str | None
    staff_id: str | None


class EditOut(BaseModel):
    itinerary: ItineraryOut
    changes: list[ChangeOut]


async def describe_session(scope: ProgramScope, session: InterviewSession) -> SessionOut:
    return (await describe_sessions(scope, [session]))[0]


async def describe_sessions(
    scope: ProgramScope, sessions: list[InterviewSession]
) -> list[SessionOut]:
    """Many sessions in a handful of queries, whatever their number."""
    layouts = await session_layouts(scope, [s.id for s in sessions])
    seats = await occupancy(scope, [SessionSeats(s.id, s.name, s.capacity) for s in sessions])
    return [
        _session_out(session, layouts[session.id], taken.booked)
        for session, taken in zip(sessions, seats, strict=True)
    ]


def _session_out(session: InterviewSession, layout: SessionLayout, booked: int) -> SessionOut:
    start, end = session_window(session, layout.rounds)
    rooms = [
        RoomOut.model_validate(room).model_copy(
            update={"interviewer_ids": sorted(layout.interviewers.get(room.id, []))}
        )
        for room in layout.rooms
    ]
    return SessionOut(
        id=session.id,
        name=session.name,
        date=session.date,
        start_time=session.start_time,
        end_time=end.time(),
        starts_at=start,
        ends_at=end,
        timezone=session.timezone,
        mode=session.mode,
        rounds=len(layout.rounds),
        interview_minutes=session.interview_minutes,
        review_minutes=session.review_minutes,
        breaks=[
            BreakIn(after_round=r.number, minutes=r.break_after_minutes)
            for r in layout.rounds
            if r.break_after_minutes
        ],
        capacity=session.capacity,
        booked=booked,
        visible=session.visible,
        manual_mode=session.manual_mode,
        knock_minutes=session.knock_minutes,
        rooms=rooms,
        has_instructions=session.instructions_file is not None,
    )


async def describe_itinerary(scope: ProgramScope, itinerary: Itinerary) -> ItineraryOut:
    rows = await itineraries.interviews(scope, itinerary)
    names = await applicant_names(scope, list({r.applicant_id for r in rows}))
    rounds = await rounds_of(scope, itinerary.session_id)
    return ItineraryOut(
        id=itinerary.id,
        session_id=itinerary.session_id,
        version=itinerary.version,
        status=itinerary.status,
        published_at=itinerary.published_at,
        rounds=len(rounds),
        slots=[
            SlotOut(
                round=r.round_number,
                room_id=r.room_id,
                applicant_id=r.applicant_id,
                applicant_name=names.get(r.applicant_id, ""),
                status=r.status,
            )
            for r in rows
        ],
    )


async def _current_itinerary(scope: ProgramScope, session_id: str) -> Itinerary:
    itinerary = await itineraries.current(scope, session_id)
    if itinerary is None:
        raise NotFound("This session has no itinerary yet: generate one.", field="itinerary")
    return itinerary


async def _session(call: Call) -> InterviewSession:
    return await call.scope.get(InterviewSession, call.path("session_id"), what="session")


@api.route(
    "GET",
    "/sessions",
    summary="List sessions",
    tags=("sessions",),
    permission="sessions.read",
    response=list[SessionOut],
    cache=True,
)
async def list_sessions(call: Call) -> list[SessionOut]:
    rows = await call.scope.all(InterviewSession)
    rows.sort(key=lambda s: (s.date, s.start_time, s.name))
    return await describe_sessions(call.scope, rows)


@api.route(
    "POST",
    "/sessions",
    summary="Create a session",
    tags=("sessions",),
    permission="sessions.write",
    body=SessionIn,
    response=SessionOut,
    status=201,
)
async def create_session(call: Call) -> SessionOut:
    session = await save_session(
        call.scope, call.body.spec(), staff_names=await active_staff_names(call.scope)
    )
    record(call.db, call.staff, "session.create", "session", session.id, name=session.name)
    return await describe_session(call.scope, session)


@api.route(
    "GET",
    "/sessions/{session_id}",
    summary="One session with rooms and end time",
    tags=("sessions",),
    permission="sessions.read",
    response=SessionOut,
)
async def get_session(call: Call) -> SessionOut:
    return await describe_session(call.scope, await _session(call))


@api.route(
    "PUT",
    "/sessions/{session_id}",
    summary="Change a session",
    tags=("sessions",),
    permission="sessions.write",
    body=SessionIn,
    response=SessionOut,
)
async def update_session(call: Call) -> SessionOut:
    session = await _session(call)
    await save_session(
        call.scope,
        call.body.spec(),
        session,
        booked=await booked_count(call.scope, session.id),
        staff_names=await active_staff_names(call.scope),
    )
    record(call.db, call.staff, "session.update", "session", session.id)
    return await describe_session(call.scope, session)


@api.route(
    "DELETE",
    "/sessions/{session_id}",
    summary="Delete a session without bookings",
    tags=("sessions",),
    permission="sessions.write",
)
async def remove_session(call: Call) -> None:
    session = await _session(call)
    await delete_session(call.scope, session, await booked_count(call.scope, session.id))
    record(call.db, call.staff, "session.delete", "session", session.id, name=session.name)


@api.route(
    "POST",
    "/sessions/{session_id}/copy",
    summary="Copy a session to other dates",
    tags=("sessions",),
    permission="sessions.write",
    body=CopyIn,
    response=list[SessionOut],
    status=201,
)
async def copy(call: Call) -> list[SessionOut]:
    source = await _session(call)
    copies = await copy_session(
        call.scope, source, call.body.dates, await active_staff_names(call.scope)
    )
    for c in copies:
        record(call.db, call.staff, "session.copy", "session", c.id, source=source.id)
    return [await describe_session(call.scope, c) for c in copies]


@api.route(
    "POST",
    "/sessions/{session_id}/rooms",
    summary="Add a room",
    tags=("sessions",),
    permission="sessions.write",
    body=RoomIn,
    response=RoomOut,
    status=201,
)
async def add_room(call: Call) -> RoomOut:
    session = await _session(call)
    room = await save_room(
        call.scope,
        session,
        room_spec(call.body),
        staff_names=await active_staff_names(call.scope),
        known_forms=await form_ids(call.scope),
    )
    return await _describe_room(call.scope, room)


@api.route(
    "GET",
    "/rooms/{room_id}",
    summary="One room",
    tags=("sessions",),
    permission="sessions.read",
    response=RoomOut,
)
async def get_room(call: Call) -> RoomOut:
    return await _describe_room(
        call.scope, await call.scope.get(Room, call.path("room_id"), what="room")
    )


@api.route(
    "PUT",
    "/rooms/{room_id}",
    summary="Change a room",
    tags=("sessions",),
    permission="sessions.write",
    body=RoomIn,
    response=RoomOut,
)
async def update_room(call: Call) -> RoomOut:
    room = await call.scope.get(Room, call.path("room_id"), what="room")
    session = await call.scope.get(InterviewSession, room.session_id)
    await save_room(
        call.scope,
        session,
        room_spec(call.body),
        room,
        staff_names=await active_staff_names(call.scope),
        known_forms=await form_ids(call.scope),
    )
    return await _describe_room(call.scope, room)


@api.route(
    "DELETE",
    "/rooms/{room_id}",
    summary="Remove a room",
    tags=("sessions",),
    permission="sessions.write",
)
async def remove_room(call: Call) -> None:
    await delete_room(call.scope, await call.scope.get(Room, call.path("room_id"), what="room"))


def room_spec(body: RoomIn) -> RoomSpec:
    return RoomSpec(
        name=body.name,
        interviewer_ids=tuple(body.interviewer_ids),
        external_url=body.external_url or None,
        scoring_form_id=body.scoring_form_id or None,
    )


async def _describe_room(scope: ProgramScope, room: Room) -> RoomOut:
    staff = await interviewers_by_room(scope, room.session_id)
    return RoomOut.model_validate(room).model_copy(
        update={"interviewer_ids": sorted(staff.get(room.id, []))}
    )


@api.route(
    "GET",
    "/sessions/{session_id}/itinerary",
    summary="The session's itinerary",
    tags=("itinerary",),
    permission="sessions.read",
    response=ItineraryOut,
)
async def get_itinerary(call: Call) -> ItineraryOut:
    session = await _session(call)
    itinerary = await _current_itinerary(call.scope, session.id)
    return await describe_itinerary(call.scope, itinerary)


@api.route(
    "POST",
    "/sessions/{session_id}/itinerary/generate",
    summary="Generate a draft itinerary from the booked applicants",
    tags=("itinerary",),
    permission="itinerary.write",
    response=ItineraryOut,
    status=201,
)
async def generate_itinerary(call: Call) -> ItineraryOut:
    session = await _session(call)
    booked = await booked_applicant_ids(call.scope, session.id)
    names = await applicant_names(call.scope, booked)
    itinerary, _ = await itineraries.generate(
        call.scope, session, booked, call.request.app[CLOCK], names
    )
    record(
        call.db,
        call.staff,
        "itinerary.generate",
        "itinerary",
        itinerary.id,
        version=itinerary.version,
    )
    return await describe_itinerary(call.scope, itinerary)


@api.route(
    "POST",
    "/sessions/{session_id}/itinerary/edit",
    summary="Move one applicant or swap two in one round",
    tags=("itinerary",),
    permission="itinerary.write",
    body=EditIn,
    response=EditOut,
)
async def edit_itinerary(call: Call) -> EditOut:
    session = await _session(call)
    itinerary = await _current_itinerary(call.scope, session.id)
    body: EditIn = call.body
    names = await applicant_names(call.scope)
    changes = await itineraries.apply_edit(
        call.scope,
        session,
        itinerary,
        itineraries.Edit(
            body.kind, body.round, body.applicant_id, body.other_applicant_id, body.room_id
        ),
        call.request.app[CLOCK],
        names,
    )
    record(
        call.db,
        call.staff,
        f"itinerary.{body.kind}",
        "itinerary",
        itinerary.id,
        round=body.round,
        applicant=body.applicant_id,
        other=body.other_applicant_id,
        room=body.room_id,
    )
    return EditOut(
        itinerary=await describe_itinerary(call.scope, itinerary),
        changes=[
            ChangeOut(
                message=c.message,
                round_number=c.round_number,
                applicant_id=c.applicant_id,
                staff_id=c.staff_id,
            )
            for c in changes
        ],
    )


@api.route(
    "POST",
    "/sessions/{session_id}/itinerary/publish",
    summary="Publish the itinerary",
    tags=("itinerary",),
    permission="itinerary.write",
    response=ItineraryOut,
)
async def publish_itinerary(call: Call) -> ItineraryOut:
    session = await _session(call)
    itinerary = await _current_itinerary(call.scope, session.id)
    await itineraries.publish(call.scope, itinerary, call.request.app[CLOCK])
    record(
        call.db,
        call.staff,
        "itinerary.publish",
        "itinerary",
        itinerary.id,
        version=itinerary.version,
    )
    await announce_itinerary(call.scope, session.id, call.request.app)
    return await describe_itinerary(call.scope, itinerary)
