"""Meeting rooms."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from rooms.models import MeetingRoom
from web.api.framework import Api, Call

api = Api()


class MeetingRoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    audience: str
    external_url: str | None


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
