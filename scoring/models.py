"""Scoring forms (versioned), their items, scores, adjustments and rank lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, IdMixin, utcnow
from core.scoping import ProgramOwned

ItemKind = Literal["rating", "yes_no", "comment"]
ITEM_KINDS: tuple[str, ...] = get_args(ItemKind)


class ScoringForm(IdMixin, ProgramOwned, Base):
    """A form version. Versions of one form share `family_id`; scores point at a version."""

    __tablename__ = "scoring_forms"
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoringItem(IdMixin, ProgramOwned, Base):
    __tablename__ = "scoring_items"
    form_id: Mapped[str] = mapped_column(ForeignKey("scoring_forms.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(300))
    help_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    scale_min: Mapped[int] = mapped_column(Integer, default=1)
    scale_max: Mapped[int] = mapped_column(Integer, default=5)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    required: Mapped[bool] = mapped_column(Boolean, default=False)


class Score(IdMixin, ProgramOwned, Base):
    """One interviewer's answers for one applicant in one session; a draft until submitted."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("session_id", "applicant_id", "interviewer_id"),)
    session_id: Mapped[str] = mapped_column(ForeignKey("interview_sessions.id", ondelete="CASCADE"))
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    interviewer_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    interview_id: Mapped[str | None] = mapped_column(
        ForeignKey("interviews.id", ondelete="SET NULL"), nullable=True
    )
    form_id: Mapped[str] = mapped_column(ForeignKey("scoring_forms.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="draft")
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ScoreExclusion(IdMixin, ProgramOwned, Base):
    __tablename__ = "score_exclusions"
    __table_args__ = (UniqueConstraint("applicant_id", "interviewer_id"),)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    interviewer_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreOverride(IdMixin, ProgramOwned, Base):
    __tablename__ = "score_overrides"
    __table_args__ = (UniqueConstraint("program_id", "applicant_id"),)
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RankList(IdMixin, ProgramOwned, Base):
    __tablename__ = "rank_lists"
    name: Mapped[str] = mapped_column(String(200))
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RankEntry(IdMixin, ProgramOwned, Base):
    __tablename__ = "rank_entries"
    __table_args__ = (UniqueConstraint("rank_list_id", "applicant_id"),)
    rank_list_id: Mapped[str] = mapped_column(ForeignKey("rank_lists.id", ondelete="CASCADE"))
    applicant_id: Mapped[str] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    included: Mapped[bool] = mapped_column(Boolean, default=True)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
