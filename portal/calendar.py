"""Calendar files (ICS) for emails that confirm a time, written in the session's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

Method = Literal["PUBLISH", "CANCEL"]
PRODUCT_ID = "-//interviewday//interviewday//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    summary: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    description: str = ""
    url: str | None = None
    sequence: int = 0


def ics(event: CalendarEvent, *, method: Method = "PUBLISH", stamp: datetime) -> str:
    """One VEVENT with its VTIMEZONE, times local to the session (DTSTART;TZID=...)."""
    zone = ZoneInfo(event.timezone)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    item = Event()
    item.add("uid", event.uid)
    item.add("dtstamp", stamp)
    item.add("dtstart", event.starts_at.astimezone(zone))
    item.add("dtend", event.ends_at.astimezone(zone))
    item.add("summary", event.summary)
    item.add("sequence", event.sequence)
    if event.description:
        item.add("description", event.description)
    if event.url:
        item.add("url", event.url)
    item.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    calendar.add_component(item)
    calendar.add_missing_timezones()
    text: str = calendar.to_ical().decode()
    return text


def event_timezone(text: str) -> str | None:
    """The TZID of the first DTSTART in an ICS text (for tests and the outbox page)."""
    calendar = Calendar.from_ical(text)
    for component in calendar.walk("VEVENT"):
        start = component.get("dtstart")
        if start is not None and start.params.get("TZID"):
            return str(start.params["TZID"])
    return None
