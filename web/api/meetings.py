"""Meeting rooms: welcome, lunch, debrief; for applicants, staff or both."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from portal.audit import record
from rooms import meetings
from rooms.models import MeetingRoom
from web.api.fields import LongLine, Moment, OptionalName, RowId, ShortText
from web.api.framework import Api, Call

api = Api()
TAGS = ("meeting rooms",)


class MeetingRoomIn(BaseModel):
    name: OptionalName
    starts_at: Moment
    ends_at: Moment
    audience: ShortText = "both"
    external_url: LongLine | None = None
    session_id: RowId | None = None

    def spec(self) -> meetings.MeetingSpec:
        return meetings.MeetingSpec(
            name=self.name,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            audience=self.audience,
            external_url=self.external_url,
            session_id=self.session_id,
        )


class ListQuery(BaseModel):
    session_id: RowId | None = None


class MeetingRoomOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    audience: str
    external_url: str | None
    session_id: str | None


@api.route(
    "GET",
    "/meeting-rooms",
    summary="List meeting rooms, optionally of one session",
    tags=TAGS,
    permission="sessions.read",
    query=ListQuery,
    response=list[MeetingRoomOut],
)
async def list_meeting_rooms(call: Call) -> list[MeetingRoom]:
    return await meetings.list_meetings(call.scope, call.query.session_id)


@api.route(
    "POST",
    "/meeting-rooms",
    summary="Create a meeting room",
    tags=TAGS,
    permission="sessions.write",
    body=MeetingRoomIn,
    response=MeetingRoomOut,
    status=201,
)
async def create_meeting_room(call: Call) -> MeetingRoom:
    meeting = await meetings.create_meeting(call.scope, call.body.spec())
    record(
        call.db, call.staff, "meeting_room.create", "meeting_room", meeting.id, name=meeting.name
    )
    return meeting


@api.route(
    "GET",
    "/meeting-rooms/{room_id}",
    summary="One meeting room",
    tags=TAGS,
    permission="sessions.read",
    response=MeetingRoomOut,
)
async def get_meeting_room(call: Call) -> MeetingRoom:
    return await call.scope.get(MeetingRoom, call.path("room_id"), what="meeting room")


@api.route(
    "PUT",
    "/meeting-rooms/{room_id}",
    summary="Replace a meeting room's details",
    tags=TAGS,
    permission="sessions.write",
    body=MeetingRoomIn,
    response=MeetingRoomOut,
)
async def update_meeting_room(call: Call) -> MeetingRoom:
    meeting = await meetings.update_meeting(call.scope, call.path("room_id"), call.body.spec())
    record(call.db, call.staff, "meeting_room.update", "meeting_room", meeting.id)
    return meeting


@api.route(
    "DELETE",
    "/meeting-rooms/{room_id}",
    summary="Delete a meeting room",
    tags=TAGS,
    permission="sessions.write",
)
async def delete_meeting_room(call: Call) -> None:
    meeting = await meetings.delete_meeting(call.scope, call.path("room_id"))
    record(
        call.db, call.staff, "meeting_room.delete", "meeting_room", meeting.id, name=meeting.name
    )
