"""Sessions, rooms and scoring forms (read side for now; program setup extends it)."""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict

from rooms.models import InterviewSession, MeetingRoom, Room
from scoring.models import ScoringForm
from web.api.framework import Api, Call

api = Api()


class SessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    date: date
    start_time: time
    timezone: str
    mode: str
    interview_minutes: int
    review_minutes: int
    capacity: int
    visible: bool


class RoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    session_id: str
    name: str
    position: int
    external_url: str | None
    scoring_form_id: str | None


class FormOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    family_id: str
    version: int
    name: str


class MeetingRoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    audience: str
    external_url: str | None


@api.route(
    "GET",
    "/sessions",
    summary="List sessions",
    tags=("sessions",),
    permission="sessions.read",
    response=list[SessionOut],
)
async def list_sessions(call: Call) -> list[InterviewSession]:
    return await call.scope.all(InterviewSession)


@api.route(
    "GET",
    "/sessions/{session_id}",
    summary="One session",
    tags=("sessions",),
    permission="sessions.read",
    response=SessionOut,
)
async def get_session(call: Call) -> InterviewSession:
    return await call.scope.get(InterviewSession, call.path("session_id"), what="session")


@api.route(
    "GET",
    "/rooms/{room_id}",
    summary="One room",
    tags=("sessions",),
    permission="sessions.read",
    response=RoomOut,
)
async def get_room(call: Call) -> Room:
    return await call.scope.get(Room, call.path("room_id"), what="room")


@api.route(
    "GET",
    "/forms",
    summary="List scoring forms",
    tags=("forms",),
    permission="forms.read",
    response=list[FormOut],
)
async def list_forms(call: Call) -> list[ScoringForm]:
    return await call.scope.all(ScoringForm, ScoringForm.is_current.is_(True))


@api.route(
    "GET",
    "/forms/{form_id}",
    summary="One scoring form",
    tags=("forms",),
    permission="forms.read",
    response=FormOut,
)
async def get_form(call: Call) -> ScoringForm:
    return await call.scope.get(ScoringForm, call.path("form_id"), what="scoring form")


@api.route(
    "GET",
    "/meeting-rooms/{room_id}",
    summary="One meeting room",
    tags=("sessions",),
    permission="sessions.read",
    response=MeetingRoomOut,
)
async def get_meeting_room(call: Call) -> MeetingRoom:
    return await call.scope.get(MeetingRoom, call.path("room_id"), what="meeting room")
