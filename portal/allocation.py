"""The preference window: applicants rank the sessions they can attend, then one allocation run
seats them. Order among equal preference is a seeded lottery, stored with the result so anyone
can replay the run and get the same seats."""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Booking
from portal.models_mail import AllocationRun, SessionChoice
from portal.permissions import Actor
from portal.scheduling import (
    Rules,
    SessionInfo,
    book_self,
    check_choice_list,
    require_invited,
    require_visible,
    save_choices,
    seats_left,
)

MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Allocation:
    lottery: tuple[str, ...]
    seated: dict[str, str]
    leftovers: tuple[str, ...]


def allocate(
    preferences: Mapping[str, Sequence[str]], free: Mapping[str, int], seed: int
) -> Allocation:
    """Rank by rank: everyone's first choices are served before anyone's second, and within
    one rank the lottery (a shuffle seeded by `seed`) decides who gets the last seats."""
    lottery = sorted(preferences)
    random.Random(seed).shuffle(lottery)
    left = dict(free)
    seated: dict[str, str] = {}
    depth = max((len(p) for p in preferences.values()), default=0)
    for rank in range(depth):
        for applicant_id in lottery:
            ranked = preferences[applicant_id]
            if applicant_id in seated or rank >= len(ranked):
                continue
            session_id = ranked[rank]
            if left.get(session_id, 0) > 0:
                seated[applicant_id] = session_id
                left[session_id] -= 1
    leftovers = tuple(a for a in lottery if a not in seated)
    return Allocation(tuple(lottery), seated, leftovers)


async def rank(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    sessions: Sequence[SessionInfo],
    rules: Rules,
    now: datetime,
) -> None:
    """Stores the applicant's ranking while the preference window is open."""
    if not rules.preference_window_open(now):
        raise Conflict("The preference window is closed.", code="window_closed")
    require_invited(applicant)
    check_choice_list([s.id for s in sessions], max(1, len(sessions)))
    for session in sessions:
        require_visible(session)
    await save_choices(scope, applicant.id, [s.id for s in sessions], now)
    record(scope.db, actor, "preferences.rank", "applicant", applicant.id, count=len(sessions))


async def run(
    scope: ProgramScope,
    actor: Actor,
    sessions: Sequence[SessionInfo],
    rules: Rules,
    now: datetime,
    *,
    seed: int | None = None,
) -> AllocationRun:
    """Seats the rankings once the window has closed. The caller holds the sessions' locks."""
    close = rules.preferences_close_at
    if close is None:
        raise Conflict("Set a preference window first.", code="no_window")
    if now < close:
        raise Conflict("The preference window is still open.", code="window_open")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(f"The seed is a number from 0 to {MAX_SEED}.", field="seed")
    done = await scope.all(AllocationRun, AllocationRun.ran_at >= close)
    if done:
        raise Conflict("This preference window was already allocated.", code="already_ran")
    seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    by_id = {s.id: s for s in sessions if s.visible}
    free = {s.id: await seats_left(scope, s, now) for s in by_id.values()}
    applicants = {a.id: a for a in await scope.all(Applicant, Applicant.status == "invited")}
    seated_ids = {b.applicant_id for b in await scope.all(Booking, Booking.status == "scheduled")}
    preferences: dict[str, list[str]] = {}
    for choice in sorted(await scope.all(SessionChoice), key=lambda c: c.rank):
        wanted = choice.applicant_id in applicants and choice.applicant_id not in seated_ids
        if wanted and choice.session_id in by_id:
            preferences.setdefault(choice.applicant_id, []).append(choice.session_id)
    result = allocate(preferences, free, seed)
    for applicant_id in result.lottery:
        session_id = result.seated.get(applicant_id)
        if session_id is None:
            continue
        await book_self(
            scope,
            actor,
            applicants[applicant_id],
            by_id[session_id],
            rules,
            now,
            source="allocation",
        )
    row = scope.add(
        AllocationRun(
            seed=seed,
            ran_at=now,
            actor_id=actor.id,
            lottery=list(result.lottery),
            preferences=preferences,
            capacities=free,
            seated=result.seated,
            leftovers=list(result.leftovers),
        )
    )
    await scope.db.flush()
    record(
        scope.db,
        actor,
        "allocation.run",
        "allocation_run",
        row.id,
        seed=seed,
        seated=len(result.seated),
        leftovers=len(result.leftovers),
    )
    return row


def replay(run_row: AllocationRun) -> Allocation:
    """The same run again from what was stored: an audit compares this with `run_row.seated`."""
    return allocate(
        {k: list(v) for k, v in run_row.preferences.items()},
        {k: int(v) for k, v in run_row.capacities.items()},
        run_row.seed,
    )
