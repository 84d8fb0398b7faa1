"""Rank lists: the main list and custom named lists, ordered by hand over the computed order.

A list with no stored entries follows the computed order (final score, ties alphabetical). Once
someone reorders it, the whole order is stored; applicants who became rankable afterwards are
appended at the end (in computed order) and marked new, so nobody slips into the middle of a
list a director already settled. Reverting deletes the stored order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from core.textcheck import check_text
from scoring.agreement import Agreement
from scoring.models import RankEntry, RankList

MAIN_LIST_NAME = "Main rank list"
NAME_MAX = 200


@dataclass(frozen=True)
class Placement:
    """One applicant's place in a list; `new` means not in the stored order yet."""

    applicant_id: str
    included: bool
    manual: bool
    new: bool = False


@dataclass(frozen=True)
class Move:
    applicant_id: str
    old_position: int | None
    new_position: int


# --- pure rules --------------------------------------------------------------------------------


def merged_order(computed: Sequence[str], stored: Sequence[Placement]) -> list[Placement]:
    """The list as shown: the stored order where there is one, newcomers appended."""
    if not stored:
        return [Placement(applicant_id, True, False) for applicant_id in computed]
    rankable = set(computed)
    kept = [p for p in stored if p.applicant_id in rankable]
    known = {p.applicant_id for p in kept}
    newcomers = [Placement(a, True, False, new=True) for a in computed if a not in known]
    return kept + newcomers


def checked_order(
    rankable: Sequence[str], order: Sequence[tuple[str, bool]]
) -> list[tuple[str, bool]]:
    """A full order must name every rankable applicant exactly once and nobody else."""
    allowed = set(rankable)
    seen: set[str] = set()
    for index, (applicant_id, _) in enumerate(order):
        if applicant_id not in allowed:
            raise ValidationFailed(
                "This applicant cannot be ranked in this program.",
                field=f"entries.{index}.applicant_id",
            )
        if applicant_id in seen:
            raise ValidationFailed(
                "An applicant appears twice in the order.",
                field=f"entries.{index}.applicant_id",
            )
        seen.add(applicant_id)
    missing = allowed - seen
    if missing:
        raise ValidationFailed(
            f"The order leaves out {len(missing)} applicant(s): send the full list.",
            field="entries",
        )
    return list(order)


def moves(before: Sequence[str], after: Sequence[str]) -> list[Move]:
    """Who changed place (1-based positions), for the audit log."""
    old = {applicant_id: index for index, applicant_id in enumerate(before, start=1)}
    return [
        Move(applicant_id, old.get(applicant_id), position)
        for position, applicant_id in enumerate(after, start=1)
        if old.get(applicant_id) != position
    ]


def moved_to(order: Sequence[str], applicant_id: str, rank: int) -> list[str]:
    """The order with one applicant typed into rank `rank` (1-based, clamped); the rest shift."""
    rest = [a for a in order if a != applicant_id]
    if len(rest) == len(order):
        raise ValueError(f"{applicant_id!r} is not in the list")
    index = min(max(rank, 1), len(order)) - 1
    return [*rest[:index], applicant_id, *rest[index:]]


def reading_of(agreement: Agreement) -> str:
    """Alpha in plain words (Krippendorff's rule of thumb: 0.8 reliable, 0.667 tentative)."""
    alpha = agreement.value
    if alpha is None:
        return f"Not enough data yet: {agreement.reason}."
    if alpha >= 0.8:
        return "Interviewers agree strongly."
    if alpha >= 0.667:
        return "Interviewers mostly agree; treat close calls with care."
    if alpha >= 0.4:
        return "Interviewers agree only loosely: compare the comments before ranking."
    return (
        "Interviewers barely agree: the scores say more about who interviewed "
        "than about the applicant."
    )


def clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValidationFailed("Give the list a name.", field="name")
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(f"Keep the name under {NAME_MAX} characters.", field="name")
    check_text(cleaned, field="name", max_length=NAME_MAX, label="The name")
    return cleaned


# --- the database ------------------------------------------------------------------------------


async def lists_of(scope: ProgramScope, now: datetime) -> list[RankList]:
    """The main list first (created on first use), then custom lists by name."""
    await main_list(scope, now)
    rows = await scope.all(RankList)
    return sorted(rows, key=lambda r: (not r.is_main, r.name.casefold(), r.id))


async def main_list(scope: ProgramScope, now: datetime) -> RankList:
    found = (await scope.db.scalars(scope.select(RankList, RankList.is_main.is_(True)))).first()
    if found is not None:
        return found
    created = scope.add(RankList(name=MAIN_LIST_NAME, is_main=True, created_at=now, updated_at=now))
    await scope.db.flush()
    return created


async def create_list(scope: ProgramScope, name: str, now: datetime) -> RankList:
    created = scope.add(
        RankList(name=clean_name(name), is_main=False, created_at=now, updated_at=now)
    )
    await scope.db.flush()
    return created


async def rename_list(rank_list: RankList, name: str, now: datetime) -> None:
    rank_list.name = clean_name(name)
    rank_list.updated_at = now


async def delete_list(scope: ProgramScope, rank_list: RankList) -> None:
    if rank_list.is_main:
        raise Conflict("The main rank list cannot be deleted.", code="main_list")
    await scope.db.delete(rank_list)
    await scope.db.flush()


async def stored_order(scope: ProgramScope, rank_list_id: str) -> list[Placement]:
    rows = await scope.db.scalars(
        scope.select(RankEntry, RankEntry.rank_list_id == rank_list_id).order_by(RankEntry.position)
    )
    return [Placement(r.applicant_id, r.included, r.manual) for r in rows]


async def save_order(
    scope: ProgramScope,
    rank_list: RankList,
    order: Sequence[tuple[str, bool]],
    computed: Sequence[str],
    now: datetime,
) -> list[Placement]:
    """Stores the full order; an entry is `manual` where it differs from the computed place."""
    order = checked_order(computed, order)
    computed_place = {applicant_id: index for index, applicant_id in enumerate(computed)}
    await scope.db.execute(delete(RankEntry).where(RankEntry.rank_list_id == rank_list.id))
    placements = []
    for position, (applicant_id, included) in enumerate(order):
        manual = computed_place[applicant_id] != position or not included
        scope.add(
            RankEntry(
                rank_list_id=rank_list.id,
                applicant_id=applicant_id,
                position=position,
                included=included,
                manual=manual,
            )
        )
        placements.append(Placement(applicant_id, included, manual))
    rank_list.updated_at = now
    await scope.db.flush()
    return placements


async def revert(scope: ProgramScope, rank_list: RankList, now: datetime) -> None:
    await scope.db.execute(delete(RankEntry).where(RankEntry.rank_list_id == rank_list.id))
    rank_list.updated_at = now
    await scope.db.flush()
