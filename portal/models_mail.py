"""Email templates, the outbox, waitlist offers, session choices and allocation runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow
from core.scoping import ProgramOwned


class EmailTemplate(IdMixin, ProgramOwned, Base):
    """A program's wording for one kind of email; without a row the built-in wording is used."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("program_id", "kind"),)
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(IdMixin, ProgramOwned, Base):
    """One email to one person. The idempotency key makes a second request for the same email
    find this row instead of sending again. Without SMTP this table is the mailbox staff read."""

    __tablename__ = "outbox_messages"
    __table_args__ = (UniqueConstraint("program_id", "idempotency_key"),)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    applicant_id: Mapped[str | None] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    staff_id: Mapped[str | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), nullable=True
    )
    invitation_id: Mapped[str | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), nullable=True
    )
    to_email: Mapped[str] = mapped_column(String(254))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ics: Mapped[str | None] = mapped_column(Text, nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    # pending → sending → sent; a failure goes back to pending with a later next_attempt_at,
    # and after the last attempt to failed.
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    release_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    transport: Mapped[str | None] = mapped_column(String(10), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailMark(IdMixin, ProgramOwned, Base):
    """Work done once (a session's reminders, a schedule change's email), so jobs never redo it."""

    __tablename__ = "mail_marks"
    __table_args__ = (UniqueConstraint("program_id", "key"),)
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitlistOffer(IdMixin, ProgramOwned, Base):
    """A seat offered to a waitlisted applicant: open until claimed, declined, taken by someone
    else (first-come) or lapsed at `expires_at` (sequential)."""

    __tablename__ = "waitlist_offers"
    session_id: Mapped[str] = mapped_column(
        ForeignKey("interview_sessions.id", ondelete="CASCADE"), index=True
    )
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    offered_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(nullable=True)


class SessionChoice(IdMixin, ProgramOwned, Base):
    """An applicant's ranked sessions: first and second choice, or a preference-window ranking."""

    __tablename__ = "session_choices"
    __table_args__ = (UniqueConstraint("applicant_id", "session_id"),)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AllocationRun(IdMixin, ProgramOwned, Base):
    """One seating of the preference window, kept whole so anyone can replay it from the seed."""

    __tablename__ = "allocation_runs"
    seed: Mapped[int] = mapped_column(Integer)
    ran_at: Mapped[datetime] = mapped_column()
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lottery: Mapped[list[str]] = mapped_column(JSON, default=list)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    capacities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seated: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    leftovers: Mapped[list[str]] = mapped_column(JSON, default=list)
