"""Self-scheduling over HTTP: the applicant's sessions, choices, seats, waitlists and rankings;
for staff the scheduling options, the allocation run and finalizing a session.

The actions are plain functions (`choose`, `book`, `cancel`, …) so the applicant's pages and
this API share them; each locks the sessions it touches (`web.booking_rules.lock_sessions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from core.errors import Conflict, ValidationFailed
from core.scoping import ProgramScope
from portal import allocation, invitations, scheduling, waitlists
from portal.bookings import booked_count
from portal.models import Applicant, Booking, Program
from portal.models_mail import AllocationRun, SessionChoice, WaitlistOffer
from portal.permissions import Actor
from rooms.models import InterviewSession
from web.api.applicant_view import ApplicantView, applicant_view
from web.api.fields import NaiveMoment, RowId, SingleLine
from web.api.finalize import FinalizeOut, finalize_session
from web.api.framework import Api, Call
from web.booking_rules import lock_sessions, now_of, program_rules
from web.jobs import wake_after_commit

api = Api()


# The actions, shared with the pages -------------------------------------------------------


async def _me(scope: ProgramScope, actor: Actor) -> Applicant:
    return await scope.get(Applicant, actor.id, what="applicant")


async def choose(
    scope: ProgramScope, actor: Actor, session_ids: list[str], now: datetime
) -> scheduling.ChoiceOutcome:
    scheduling.check_choice_list(session_ids, scheduling.MAX_CHOICES)
    locked = await lock_sessions(scope, session_ids)
    rules = await program_rules(scope)
    sessions = [locked[i] for i in session_ids]
    return await scheduling.choose(scope, actor, await _me(scope, actor), sessions, rules, now)


async def book(scope: ProgramScope, actor: Actor, session_id: str, now: datetime) -> Booking:
    rules = await program_rules(scope)
    if not rules.self_scheduling:
        raise Conflict(
            "The coordinator assigns sessions in this program; send your choices instead.",
            code="self_scheduling_off",
        )
    # Without the lock first: once a session is full, a rush of late claims is answered
    # at once instead of queueing on the session's row lock only to hear the same.
    session = await scope.find(InterviewSession, session_id)
    if (
        session is not None
        and session.visible
        and session.capacity > 0
        and await booked_count(scope, session_id) >= session.capacity
    ):
        raise Conflict(
            f"{session.name} is full. Join its waitlist or choose another session.",
            field="session_id",
            code="session_full",
        )
    locked = await lock_sessions(scope, [session_id])
    return await scheduling.book_self(
        scope, actor, await _me(scope, actor), locked[session_id], rules, now
    )


async def cancel(scope: ProgramScope, actor: Actor, booking_id: str, now: datetime) -> Booking:
    booking = await scope.get(Booking, booking_id, what="booking")
    locked = await lock_sessions(scope, [booking.session_id])
    rules = await program_rules(scope)
    session = locked[booking.session_id]
    applicant = await _me(scope, actor)
    gone = await scheduling.cancel(scope, actor, applicant, booking.id, session, rules, now)
    if gone.status == "scheduled":
        await waitlists.seat_opened(scope, session, rules, now)
    return gone


async def reschedule(
    scope: ProgramScope, actor: Actor, booking_id: str, session_id: str, now: datetime
) -> Booking:
    booking = await scope.get(Booking, booking_id, what="booking")
    old_id = booking.session_id
    locked = await lock_sessions(scope, [old_id, session_id])
    rules = await program_rules(scope)
    moved = await scheduling.reschedule(
        scope,
        actor,
        await _me(scope, actor),
        booking.id,
        locked[old_id],
        locked[session_id],
        rules,
        now,
    )
    await waitlists.seat_opened(scope, locked[old_id], rules, now)
    return moved


async def join_waitlist(
    scope: ProgramScope, actor: Actor, session_id: str, now: datetime
) -> Booking:
    locked = await lock_sessions(scope, [session_id])
    rules = await program_rules(scope)
    return await scheduling.join_waitlist(
        scope, actor, await _me(scope, actor), locked[session_id], rules, now
    )


async def claim_offer(
    scope: ProgramScope, actor: Actor, offer_id: str, now: datetime
) -> waitlists.Claimed:
    offer = await scope.get(WaitlistOffer, offer_id, what="offer")
    seated = await scope.all(
        Booking, Booking.applicant_id == actor.id, Booking.status == "scheduled"
    )
    current_id = seated[0].session_id if seated else None
    locked = await lock_sessions(scope, [offer.session_id, *([current_id] if current_id else [])])
    rules = await program_rules(scope)
    claimed = await waitlists.claim(
        scope,
        actor,
        await _me(scope, actor),
        offer.id,
        locked[offer.session_id],
        locked.get(current_id) if current_id else None,
        rules,
        now,
    )
    if claimed.released_session_id:
        await waitlists.seat_opened(scope, locked[claimed.released_session_id], rules, now)
    return claimed


async def decline_offer(scope: ProgramScope, actor: Actor, offer_id: str, now: datetime) -> None:
    offer = await waitlists.decline(scope, actor, offer_id, now)
    locked = await lock_sessions(scope, [offer.session_id])
    await waitlists.seat_opened(scope, locked[offer.session_id], await program_rules(scope), now)


async def rank(scope: ProgramScope, actor: Actor, session_ids: list[str], now: datetime) -> None:
    locked = await lock_sessions(scope, session_ids)
    rules = await program_rules(scope)
    sessions = [locked[i] for i in session_ids]
    await allocation.rank(scope, actor, await _me(scope, actor), sessions, rules, now)


# Applicant endpoints ----------------------------------------------------------------------


class SessionIdsIn(BaseModel):
    session_ids: list[RowId] = Field(min_length=1, max_length=60)


class SessionIdIn(BaseModel):
    session_id: Annotated[str, StringConstraints(min_length=1, max_length=32), SingleLine]


class AnswerIn(BaseModel):
    response: Literal["accepted", "declined"]


class BookingOut(BaseModel):
    id: str
    session_id: str
    status: str
    position: int


class ChoiceOut(BaseModel):
    booking: BookingOut | None
    message: str


def booking_out(booking: Booking) -> BookingOut:
    return BookingOut(
        id=booking.id,
        session_id=booking.session_id,
        status=booking.status,
        position=booking.position,
    )


@api.route(
    "GET",
    "/me/sessions",
    summary="The sessions an invited applicant may choose, with seats left and their bookings",
    tags=("self-scheduling",),
    auth="applicant",
    response=ApplicantView,
)
async def my_sessions(call: Call) -> ApplicantView:
    assert call.actor is not None
    return await applicant_view(call.scope, call.actor.id, now_of(call.request.app))


@api.route(
    "POST",
    "/me/choices",
    summary="First and second choice; booked at once when self-scheduling is on",
    tags=("self-scheduling",),
    auth="applicant",
    body=SessionIdsIn,
    response=ChoiceOut,
)
async def post_choices(call: Call) -> ChoiceOut:
    assert call.actor is not None
    wake_after_commit(call.db, call.request.app)
    outcome = await choose(call.scope, call.actor, call.body.session_ids, now_of(call.request.app))
    return ChoiceOut(
        booking=booking_out(outcome.booking) if outcome.booking else None,
        message=outcome.message,
    )


@api.route(
    "POST",
    "/me/bookings",
    summary="Take a seat (409 session_full, deadline_passed, already_booked)",
    tags=("self-scheduling",),
    auth="applicant",
    body=SessionIdIn,
    response=BookingOut,
    status=201,
)
async def post_booking(call: Call) -> BookingOut:
    assert call.actor is not None
    wake_after_commit(call.db, call.request.app)
    made = await book(call.scope, call.actor, call.body.session_id, now_of(call.request.app))
    return booking_out(made)


@api.route(
    "POST",
    "/me/bookings/{booking_id}/reschedule",
    summary="Move a seat to another session in one step (the old is kept if the new is full)",
    tags=("self-scheduling",),
    auth="applicant",
    body=SessionIdIn,
    response=BookingOut,
)
async def post_reschedule(call: Call) -> BookingOut:
    assert call.actor is not None
    wake_after_commit(call.db, call.request.app)
    moved = await reschedule(
        call.scope,
        call.actor,
        call.path("booking_id"),
        call.body.session_id,
        now_of(call.request.app),
    )
    return booking_out(moved)


@api.route(
    "DELETE",
    "/me/bookings/{booking_id}",
    summary="Cancel a seat or leave a waitlist",
    tags=("self-scheduling",),
    auth="applicant",
)
async def delete_booking(call: Call) -> None:
    assert call.actor is not None
    wake_after_commit(call.db, call.request.app)
    await cancel(call.scope, call.actor, call.path("booking_id"), now_of(call.request.app))


@api.route(
    "POST",
    "/me/waitlist",
    summary="Join a full session's waitlist",
    tags=("self-scheduling",),
    auth="applicant",
    body=SessionIdIn,
    response=BookingOut,
    status=201,
)
async def post_waitlist(call: Call) -> BookingOut:
    assert call.actor is not None
    made = await join_waitlist(
        call.scope, call.actor, call.body.session_id, now_of(call.request.app)
    )
    return booking_out(made)


@api.route(
    "POST",
    "/me/offers/{offer_id}/claim",
    summary="Claim an offered seat (409 offer_taken, offer_lapsed)",
    tags=("self-scheduling",),
    auth="applicant",
    response=BookingOut,
)
async def post_claim(call: Call) -> BookingOut:
    assert call.actor is not None
    wake_after_commit(call.db, call.request.app)
    claimed = await claim_offer(
        call.scope, call.actor, call.path("offer_id"), now_of(call.request.app)
    )
    return booking_out(claimed.booking)


@api.route(
    "POST",
    "/me/offers/{offer_id}/decline",
    summary="Decline an offered seat (and leave that waitlist)",
    tags=("self-scheduling",),
    auth="applicant",
)
async def post_decline_offer(call: Call) -> None:
    assert call.actor is not None
    wake_after_commit(call.db, call.request.app)
    await decline_offer(call.scope, call.actor, call.path("offer_id"), now_of(call.request.app))


@api.route(
    "PUT",
    "/me/preferences",
    summary="Rank the sessions you can attend (while the preference window is open)",
    tags=("self-scheduling",),
    auth="applicant",
    body=SessionIdsIn,
)
async def put_preferences(call: Call) -> None:
    assert call.actor is not None
    await rank(call.scope, call.actor, call.body.session_ids, now_of(call.request.app))


@api.route(
    "POST",
    "/me/invitations/{invitation_id}/response",
    summary="Accept or decline an invitation",
    tags=("self-scheduling",),
    auth="applicant",
    body=AnswerIn,
)
async def post_answer(call: Call) -> None:
    assert call.actor is not None
    await invitations.respond(
        call.scope,
        call.actor,
        call.path("invitation_id"),
        call.body.response,
        now_of(call.request.app),
    )


# Staff endpoints --------------------------------------------------------------------------


class OptionsIn(BaseModel):
    self_scheduling: bool = False
    waitlist_mode: Literal["first_come", "sequential"] = "first_come"
    waitlist_modes: dict[RowId, Literal["first_come", "sequential"]] = Field(
        default_factory=dict, max_length=1000
    )
    offer_hours: float = Field(default=24, gt=0, le=24 * 30)
    manage_deadline_days: int = Field(default=0, ge=0, le=365)
    reminder_hours: int = Field(default=24, ge=0, le=24 * 60)
    preferences_close_at: NaiveMoment | None = None


OPTION_KEYS = tuple(OptionsIn.model_fields)


def options_out(options: dict[str, Any]) -> OptionsIn:
    rules = scheduling.rules_of(options)
    return OptionsIn(
        self_scheduling=rules.self_scheduling,
        waitlist_mode=rules.waitlist_mode,
        waitlist_modes=dict(rules.waitlist_modes),
        offer_hours=rules.offer_hours,
        manage_deadline_days=rules.manage_deadline_days,
        reminder_hours=rules.reminder_hours,
        preferences_close_at=rules.preferences_close_at,
    )


async def save_options(scope: ProgramScope, body: OptionsIn) -> OptionsIn:
    if body.preferences_close_at is not None and body.preferences_close_at.tzinfo is None:
        raise ValidationFailed(
            "Give the window's closing time with its time zone.", field="preferences_close_at"
        )
    program = await scope.db.get(Program, scope.program_id)
    assert program is not None
    values = body.model_dump(mode="json")
    program.options = {**(program.options or {}), **values}
    return options_out(program.options)


@api.route(
    "GET",
    "/scheduling/options",
    summary="The program's self-scheduling rules",
    tags=("self-scheduling",),
    permission="applicants.read",
    response=OptionsIn,
)
async def get_options(call: Call) -> OptionsIn:
    program = await call.db.get(Program, call.scope.program_id)
    return options_out(program.options if program else {})


@api.route(
    "PUT",
    "/scheduling/options",
    summary="Set self-scheduling, waitlist mode, response window, deadlines, reminders",
    tags=("self-scheduling",),
    permission="sessions.write",
    body=OptionsIn,
    response=OptionsIn,
)
async def put_options(call: Call) -> OptionsIn:
    return await save_options(call.scope, call.body)


class ChoiceRowOut(BaseModel):
    applicant_id: str
    session_id: str
    rank: int


@api.route(
    "GET",
    "/scheduling/choices",
    summary="Applicants' session choices and rankings, for assigning by hand",
    tags=("self-scheduling",),
    permission="applicants.read",
    response=list[ChoiceRowOut],
)
async def get_choices(call: Call) -> list[ChoiceRowOut]:
    rows = await call.scope.all(SessionChoice)
    rows.sort(key=lambda c: (c.applicant_id, c.rank))
    return [
        ChoiceRowOut(applicant_id=c.applicant_id, session_id=c.session_id, rank=c.rank)
        for c in rows
    ]


class AllocationIn(BaseModel):
    seed: int | None = Field(default=None, ge=0, le=allocation.MAX_SEED)


class AllocationOut(BaseModel):
    id: str
    seed: int
    ran_at: datetime
    lottery: list[str]
    seated: dict[str, str]
    leftovers: list[str]
    replay_matches: bool


def allocation_out(row: AllocationRun) -> AllocationOut:
    return AllocationOut(
        id=row.id,
        seed=row.seed,
        ran_at=row.ran_at,
        lottery=list(row.lottery),
        seated=dict(row.seated),
        leftovers=list(row.leftovers),
        replay_matches=allocation.replay(row).seated == dict(row.seated),
    )


async def run_allocation(
    scope: ProgramScope, actor: Actor, seed: int | None, now: datetime
) -> AllocationRun:
    ids = [s.id for s in await scope.all(InterviewSession, InterviewSession.visible.is_(True))]
    locked = await lock_sessions(scope, ids)
    rules = await program_rules(scope)
    return await allocation.run(scope, actor, list(locked.values()), rules, now, seed=seed)


@api.route(
    "POST",
    "/scheduling/allocations",
    summary="Seat the preference window's rankings (seeded lottery, recorded for audit)",
    tags=("self-scheduling",),
    permission="bookings.write",
    body=AllocationIn,
    response=AllocationOut,
    status=201,
)
async def post_allocation(call: Call) -> AllocationOut:
    wake_after_commit(call.db, call.request.app)
    row = await run_allocation(call.scope, call.staff, call.body.seed, now_of(call.request.app))
    return allocation_out(row)


@api.route(
    "GET",
    "/scheduling/allocations/{run_id}",
    summary="An allocation run, replayed from its seed to show it is reproducible",
    tags=("self-scheduling",),
    permission="applicants.read",
    response=AllocationOut,
)
async def get_allocation(call: Call) -> AllocationOut:
    return allocation_out(await call.scope.get(AllocationRun, call.path("run_id"), what="run"))


@api.route(
    "POST",
    "/sessions/{session_id}/finalize",
    summary="Lock the bookings, generate and publish the itinerary, email everyone theirs",
    tags=("self-scheduling",),
    permission="itinerary.write",
    response=FinalizeOut,
)
async def post_finalize(call: Call) -> FinalizeOut:
    wake_after_commit(call.db, call.request.app)
    return await finalize_session(call.scope, call.staff, call.path("session_id"), call.request.app)
