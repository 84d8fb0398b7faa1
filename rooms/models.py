"""Sessions, rounds, rooms, meeting rooms, conflicts of interest, itineraries and interviews."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal, get_args

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow
from core.scoping import ProgramOwned

SessionMode = Literal["native", "external", "scoring-only"]
SESSION_MODES: tuple[str, ...] = get_args(SessionMode)
InterviewStatus = Literal["pending", "ready", "in_progress", "completed", "no_show"]
INTERVIEW_STATUSES: tuple[str, ...] = get_args(InterviewStatus)
Audience = Literal["applicants", "staff", "both"]


class InterviewSession(IdMixin, ProgramOwned, Base):
    __tablename__ = "interview_sessions"
    name: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column()
    start_time: Mapped[time] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(20), default="native")
    interview_minutes: Mapped[int] = mapped_column(Integer, default=20)
    review_minutes: Mapped[int] = mapped_column(Integer, default=5)
    capacity: Mapped[int] = mapped_column(Integer, default=0)
    visible: Mapped[bool] = mapped_column(Boolean, default=False)
    manual_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    knock_minutes: Mapped[int] = mapped_column(Integer, default=2)
    instructions_file: Mapped[str | None] = mapped_column(String(300), nullable=True)
    scoring_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    finalized_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Round(IdMixin, ProgramOwned, Base):
    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("session_id", "number"),)
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    break_after_minutes: Mapped[int] = mapped_column(Integer, default=0)


class Room(IdMixin, ProgramOwned, Base):
    __tablename__ = "rooms"
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    external_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    scoring_form_id: Mapped[str | None] = mapped_column(
        ForeignKey("scoring_forms.id", ondelete="SET NULL"), nullable=True
    )


class RoomInterviewer(IdMixin, ProgramOwned, Base):
    __tablename__ = "room_interviewers"
    __table_args__ = (UniqueConstraint("room_id", "staff_id"),)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))


class MeetingRoom(IdMixin, ProgramOwned, Base):
    __tablename__ = "meeting_rooms"
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("interview_sessions.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    audience: Mapped[str] = mapped_column(String(20), default="both")
    external_url: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ConflictOfInterest(IdMixin, ProgramOwned, Base):
    __tablename__ = "conflicts_of_interest"
    __table_args__ = (UniqueConstraint("applicant_id", "staff_id"),)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Itinerary(IdMixin, ProgramOwned, Base):
    __tablename__ = "itineraries"
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Interview(IdMixin, ProgramOwned, Base):
    """One applicant in one room in one round."""

    __tablename__ = "interviews"
    __table_args__ = (
        UniqueConstraint("itinerary_id", "round_number", "room_id"),
        UniqueConstraint("itinerary_id", "round_number", "applicant_id"),
    )
    itinerary_id: Mapped[str] = mapped_column(ForeignKey("itineraries.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    round_number: Mapped[int] = mapped_column(Integer)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")


class ItineraryChange(IdMixin, ProgramOwned, Base):
    """A change to a published itinerary, one row per person it affects, shown to them."""

    __tablename__ = "itinerary_changes"
    itinerary_id: Mapped[str] = mapped_column(ForeignKey("itineraries.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    round_number: Mapped[int] = mapped_column(Integer)
    applicant_id: Mapped[str | None] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), nullable=True
    )
    staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), nullable=True
    )
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
