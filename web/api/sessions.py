"""Sessions, rounds and rooms."""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict

from rooms.models import InterviewSession, Room
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
