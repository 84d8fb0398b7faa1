"""The payloads of client events, validated; and the shape of every ack."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_SLOTS = 16


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JoinEvent(Event):
    offer: str = Field(min_length=10, max_length=200_000)
    slots: int = Field(default=3, ge=0, le=MAX_SLOTS)


class IceEvent(Event):
    candidate: str = Field(max_length=2000)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)


class MediaStateEvent(Event):
    audio: bool
    video: bool
    screen: bool = False


class HandEvent(Event):
    raised: bool


class HeartbeatEvent(Event):
    t: float = Field(description="the client's clock, in milliseconds", allow_inf_nan=False)


class LeaveEvent(Event):
    """No fields: `leave` is sent without a payload (or with `{}`)."""


EventModel = TypeVar("EventModel", bound=Event)


class EventError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(model: type[EventModel], data: Any) -> EventModel:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EventError("invalid", "The event data must be an object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])[:80]  # keys come from the client
        raise EventError("invalid", f"{where}: {first['msg']}" if where else first["msg"]) from None


def ok(**data: Any) -> dict[str, Any]:
    return {"ok": True, **data}


def failure(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}
