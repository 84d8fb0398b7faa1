"""What TimeTrack keeps so a restart resumes the day where it stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow
from core.scoping import ProgramOwned


class DayRun(ProgramOwned, Base):
    __tablename__ = "day_runs"
    session_id: Mapped[str] = mapped_column(
        ForeignKey("interview_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="not_started")
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Raised by every node that takes the day over; writes that carry an older one are refused.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DayCommand(IdMixin, ProgramOwned, Base):
    """A coordinator command; `command_id` comes from the client so a repeat is harmless."""

    __tablename__ = "day_commands"
    __table_args__ = (UniqueConstraint("session_id", "command_id"),)
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    command_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PhaseEvent(IdMixin, ProgramOwned, Base):
    """A clock event that has fired; its key makes a restarted ticker skip it."""

    __tablename__ = "phase_events"
    __table_args__ = (UniqueConstraint("session_id", "key"),)
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    round_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scheduled_for: Mapped[datetime] = mapped_column()
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
