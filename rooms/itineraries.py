"""Itineraries in the database: generate with the solver, edit one slot, publish, record changes.

The solver (`rooms.solver`) decides; this module only loads its input and stores its output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete

from core.clock import Clock, to_datetime
from core.errors import Conflict, NotFound, ValidationFailed
from core.scoping import ProgramScope
from rooms import solver
from rooms.models import (
    ConflictOfInterest,
    Interview,
    InterviewSession,
    Itinerary,
    ItineraryChange,
)
from rooms.sessions import interviewers_by_room, rooms_of, rounds_of
from rooms.solver_edits import swap_in_round


@dataclass(frozen=True)
class Edit:
    kind: Literal["move", "swap"]
    round: int
    applicant_id: str
    other_applicant_id: str | None = None
    room_id: str | None = None


async def build_problem(
    scope: ProgramScope, session: InterviewSession, applicant_ids: Sequence[str]
) -> solver.Problem:
    rooms = await rooms_of(scope, session.id)
    staff = await interviewers_by_room(scope, session.id)
    rounds = await rounds_of(scope, session.id)
    interviewer_ids = {s for ids in staff.values() for s in ids}
    conflicts = (
        await scope.all(
            ConflictOfInterest, ConflictOfInterest.applicant_id.in_(list(applicant_ids))
        )
        if applicant_ids
        else []
    )
    return solver.Problem(
        rooms=tuple(solver.RoomSpec(r.id, tuple(sorted(staff.get(r.id, ())))) for r in rooms),
        rounds=len(rounds),
        applicants=tuple(applicant_ids),
        exclusions=frozenset(
            (c.applicant_id, c.staff_id) for c in conflicts if c.staff_id in interviewer_ids
        ),
        breaks_after=tuple(r.number for r in rounds if r.break_after_minutes),
    )


async def current(scope: ProgramScope, session_id: str) -> Itinerary | None:
    rows = await scope.all(Itinerary, Itinerary.session_id == session_id)
    return max(rows, key=lambda i: i.version) if rows else None


async def slots(scope: ProgramScope, itinerary: Itinerary) -> solver.Itinerary:
    rows = await scope.all(Interview, Interview.itinerary_id == itinerary.id)
    return solver.Itinerary(
        tuple(solver.Slot(r.round_number, r.room_id, r.applicant_id) for r in rows)
    )


async def interviews(scope: ProgramScope, itinerary: Itinerary) -> list[Interview]:
    rows = await scope.all(Interview, Interview.itinerary_id == itinerary.id)
    return sorted(rows, key=lambda r: (r.round_number, r.room_id))


async def generate(
    scope: ProgramScope,
    session: InterviewSession,
    applicant_ids: Sequence[str],
    clock: Clock,
    names: Mapping[str, str],
) -> tuple[Itinerary, solver.Solution]:
    """Solves and stores a draft. A published itinerary is never overwritten: a new version is
    drafted beside it and replaces it only when published."""
    if not applicant_ids:
        raise ValidationFailed("Book applicants into the session first.", field="applicants")
    problem = await build_problem(scope, session, applicant_ids)
    solution = solver.solve(problem)
    if solution.itinerary is None:
        assert solution.explanation is not None
        raise ValidationFailed(
            _name_people(
                solution.explanation.message, {**names, **await _room_names(scope, session.id)}
            ),
            field="itinerary",
            code=f"no_itinerary_{solution.explanation.code}",
        )
    existing = await current(scope, session.id)
    if existing is not None and existing.status == "draft":
        await scope.db.execute(delete(Interview).where(Interview.itinerary_id == existing.id))
        draft = existing
    else:
        draft = scope.add(
            Itinerary(
                session_id=session.id,
                version=(existing.version + 1) if existing else 1,
                status="draft",
                created_at=to_datetime(clock.now()),
            )
        )
        await scope.db.flush()
    await _store(scope, draft, session.id, solution.itinerary.slots)
    return draft, solution


def _name_people(message: str, names: Mapping[str, str]) -> str:
    # The solver speaks in ids; people read names.
    for key, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        message = message.replace(key, name)
    return message


async def _store(
    scope: ProgramScope, itinerary: Itinerary, session_id: str, new_slots: Sequence[solver.Slot]
) -> None:
    for slot in new_slots:
        scope.add(
            Interview(
                itinerary_id=itinerary.id,
                session_id=session_id,
                room_id=slot.room_id,
                round_number=slot.round,
                applicant_id=slot.applicant_id,
            )
        )
    await scope.db.flush()


async def apply_edit(
    scope: ProgramScope,
    session: InterviewSession,
    itinerary: Itinerary,
    edit: Edit,
    clock: Clock,
    names: Mapping[str, str],
) -> list[ItineraryChange]:
    """Changes one round; validated by the solver; recorded for the people it affects once the
    itinerary is published."""
    before = await slots(scope, itinerary)
    applicant_ids = tuple(sorted({s.applicant_id for s in before.slots}))
    if edit.applicant_id not in applicant_ids:
        raise NotFound("That applicant is not on this itinerary.", field="applicant_id")
    problem = await build_problem(scope, session, applicant_ids)
    try:
        if edit.kind == "move":
            if edit.room_id is None:
                raise ValidationFailed("Choose the room to move to.", field="room_id")
            after = solver.move(problem, before, edit.round, edit.applicant_id, edit.room_id)
        else:
            if edit.other_applicant_id is None:
                raise ValidationFailed(
                    "Choose the applicant to swap with.", field="other_applicant_id"
                )
            after, _ = swap_in_round(
                problem, before, edit.round, edit.applicant_id, edit.other_applicant_id
            )
    except solver.EditRejected as exc:
        raise Conflict(
            _name_people(str(exc), {**names, **await _room_names(scope, session.id)}),
            code=exc.code,
            field="itinerary",
        ) from None
    changed = set(after.slots) ^ set(before.slots)
    if not changed:
        return []
    touched = {(s.round, s.applicant_id) for s in changed}
    rows = await scope.all(Interview, Interview.itinerary_id == itinerary.id)
    for row in rows:
        if (row.round_number, row.applicant_id) in touched:
            await scope.db.delete(row)
    await scope.db.flush()
    await _store(
        scope,
        itinerary,
        session.id,
        [s for s in after.slots if (s.round, s.applicant_id) in touched],
    )
    if itinerary.status != "published":
        return []
    changes: list[ItineraryChange] = []
    for round_number in sorted({r for r, _ in touched}):
        changes += await _record_changes(
            scope, session, itinerary, round_number, before, after, clock, names
        )
    return changes


async def _room_names(scope: ProgramScope, session_id: str) -> dict[str, str]:
    return {r.id: r.name for r in await rooms_of(scope, session_id)}


async def _record_changes(
    scope: ProgramScope,
    session: InterviewSession,
    itinerary: Itinerary,
    round_number: int,
    before: solver.Itinerary,
    after: solver.Itinerary,
    clock: Clock,
    names: Mapping[str, str],
) -> list[ItineraryChange]:
    room_names = {r.id: r.name for r in await rooms_of(scope, session.id)}
    staff = await interviewers_by_room(scope, session.id)
    at = to_datetime(clock.now())
    changes = []
    old = {s.applicant_id: s.room_id for s in before.slots if s.round == round_number}
    new = {s.applicant_id: s.room_id for s in after.slots if s.round == round_number}
    for applicant_id in sorted(set(old) | set(new)):
        if old.get(applicant_id) == new.get(applicant_id):
            continue
        was = room_names.get(old.get(applicant_id, ""), "a break")
        now = room_names.get(new.get(applicant_id, ""), "a break")
        who = names.get(applicant_id, "An applicant")
        message = f"Round {round_number}: {who} moves from {was} to {now}."
        changes.append(
            scope.add(
                ItineraryChange(
                    itinerary_id=itinerary.id,
                    session_id=session.id,
                    round_number=round_number,
                    applicant_id=applicant_id,
                    message=message,
                    created_at=at,
                )
            )
        )
        for room_id in {old.get(applicant_id), new.get(applicant_id)} - {None}:
            for staff_id in staff.get(str(room_id), []):
                changes.append(
                    scope.add(
                        ItineraryChange(
                            itinerary_id=itinerary.id,
                            session_id=session.id,
                            round_number=round_number,
                            staff_id=staff_id,
                            message=message,
                            created_at=at,
                        )
                    )
                )
    await scope.db.flush()
    return changes


async def publish(scope: ProgramScope, itinerary: Itinerary, clock: Clock) -> Itinerary:
    if itinerary.status == "published":
        raise Conflict("This itinerary is already published.", code="already_published")
    others = await scope.all(
        Itinerary,
        Itinerary.session_id == itinerary.session_id,
        Itinerary.id != itinerary.id,
        Itinerary.status == "published",
    )
    for other in others:
        other.status = "superseded"
    itinerary.status = "published"
    itinerary.published_at = to_datetime(clock.now())
    await scope.db.flush()
    return itinerary
