"""Programs, staff, applicants, links and web sessions, bookings, invitations, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow
from core.scoping import ProgramOwned

Role = Literal["director", "coordinator", "interviewer"]
ROLES: tuple[str, ...] = get_args(Role)

ApplicantStatus = Literal[
    "candidate",
    "waitlist",
    "invited",
    "scheduled",
    "declined",
    "withdrawn",
    "interviewed",
    "no_show",
]
APPLICANT_STATUSES: tuple[str, ...] = get_args(ApplicantStatus)

BookingStatus = Literal["scheduled", "waitlisted"]


class Program(IdMixin, Base):
    __tablename__ = "programs"
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    score_min: Mapped[int] = mapped_column(Integer, default=1)
    score_max: Mapped[int] = mapped_column(Integer, default=10)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(IdMixin, ProgramOwned, Base):
    __tablename__ = "staff"
    # Login is by email alone, so an email identifies one staff account across programs.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Applicant(IdMixin, ProgramOwned, Base):
    __tablename__ = "applicants"
    __table_args__ = (UniqueConstraint("program_id", "email"),)
    email: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="candidate", index=True)
    medical_school: Mapped[str | None] = mapped_column(String(200), nullable=True)
    aamc_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    application_pdf: Mapped[str | None] = mapped_column(String(300), nullable=True)
    limited_pdf: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class MagicLink(IdMixin, ProgramOwned, Base):
    """An applicant's way in; the signed token names this row so it can be revoked."""

    __tablename__ = "magic_links"
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WebSession(Base):
    """A server-side login session; the cookie holds only its random id."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[str] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))
    staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), nullable=True
    )
    applicant_id: Mapped[str | None] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), nullable=True
    )
    active_role: Mapped[str] = mapped_column(String(20))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginAttempt(IdMixin, Base):
    """Failed logins, kept in the database so the rate limit holds across nodes."""

    __tablename__ = "login_attempts"
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class Booking(IdMixin, ProgramOwned, Base):
    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("session_id", "applicant_id"),)
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(IdMixin, ProgramOwned, Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("program_id", "idempotency_key"),)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30), default="invitation")
    idempotency_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    release_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    response: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(IdMixin, ProgramOwned, Base):
    __tablename__ = "audit_log"
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
