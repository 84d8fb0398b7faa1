"""Coordinator placement. With a preference window, applicants rank the sessions they can
attend and one allocation run, once the window has closed, seats them. Without a window and
with self-scheduling off, applicants send their choices (first, second) and the coordinator
either assigns each by hand or runs the allocation on the choices sent so far, as often as
needed; applicants who gave no choice are left for the coordinator. Order among equal
preference is a seeded lottery, stored with the result so anyone can replay the run and get
the same seats."""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from portal.audit import record
from portal.models import Applicant, Booking, Invitation
from portal.models_mail import AllocationRun, SessionChoice
from portal.permissions import Actor
from portal.scheduling import (
    Rules,
    SessionInfo,
    book_self,
    check_choice_list,
    closed_reason,
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
    """Seats the rankings once the window has closed, or, without a window and with
    self-scheduling off, the choices applicants have sent so far (each run seats whoever is
    still waiting). The caller holds the sessions' locks."""
    close = rules.preferences_close_at
    if close is None and rules.self_scheduling:
        raise Conflict(
            "Applicants book their own seats while self-scheduling is on; set a preference "
            "window to allocate by their rankings.",
            code="no_window",
        )
    if close is not None and now < close:
        raise Conflict("The preference window is still open.", code="window_open")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(f"The seed is a number from 0 to {MAX_SEED}.", field="seed")
    if close is not None and await scope.all(AllocationRun, AllocationRun.ran_at >= close):
        raise Conflict("This preference window was already allocated.", code="already_ran")
    seed = secrets.randbelow(MAX_SEED) if seed is None else seed
    by_id = {s.id: s for s in sessions if s.visible}
    # A session past its deadline (or finalized, or started) takes no one: it counts no seats.
    free = {
        s.id: 0 if closed_reason(rules, s, now) else await seats_left(scope, s, now)
        for s in by_id.values()
    }
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


@dataclass(frozen=True)
class Waiting:
    """An invited applicant without a seat: what the coordinator needs to place them."""

    applicant: Applicant
    invited_at: datetime | None
    choices: tuple[str, ...]  # session ids, first choice first
    waitlisted: tuple[str, ...]  # session ids where they hold a waitlist place


async def waiting(scope: ProgramScope) -> list[Waiting]:
    """Invited applicants who have no seat yet, in invitation order (the earliest invited
    first; invited without an email last, by name), with the sessions they chose."""
    invited = await scope.all(Applicant, Applicant.status == "invited")
    bookings = await scope.all(Booking, Booking.applicant_id.in_([a.id for a in invited]))
    seated = {b.applicant_id for b in bookings if b.status == "scheduled"}
    people = [a for a in invited if a.id not in seated]
    ids = [a.id for a in people]
    choices: dict[str, list[SessionChoice]] = {}
    for choice in await scope.all(SessionChoice, SessionChoice.applicant_id.in_(ids)):
        choices.setdefault(choice.applicant_id, []).append(choice)
    first_invited: dict[str, datetime] = {}
    for invitation in await scope.all(Invitation, Invitation.applicant_id.in_(ids)):
        at = invitation.sent_at or invitation.created_at
        if (
            invitation.applicant_id not in first_invited
            or at < first_invited[invitation.applicant_id]
        ):
            first_invited[invitation.applicant_id] = at
    rows = [
        Waiting(
            applicant=a,
            invited_at=first_invited.get(a.id),
            choices=tuple(
                c.session_id for c in sorted(choices.get(a.id, []), key=lambda c: c.rank)
            ),
            waitlisted=tuple(
                b.session_id
                for b in bookings
                if b.applicant_id == a.id and b.status == "waitlisted"
            ),
        )
        for a in people
    ]
    rows.sort(
        key=lambda w: (
            w.invited_at is None,
            w.invited_at or datetime.min,
            w.applicant.last_name.lower(),
            w.applicant.first_name.lower(),
            w.applicant.email.lower(),
        )
    )
    return rows


def replay(run_row: AllocationRun) -> Allocation:
    """The same run again from what was stored: an audit compares this with `run_row.seated`."""
    return allocate(
        {k: list(v) for k, v in run_row.preferences.items()},
        {k: int(v) for k, v in run_row.capacities.items()},
        run_row.seed,
    )
