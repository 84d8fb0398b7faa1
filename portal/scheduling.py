"""Self-scheduling: the program's rules, choosing sessions, booking a seat, rescheduling in one
step, cancelling, and the emails each sends.

Sessions belong to `rooms`; callers hand them in as `SessionInfo`, read under a lock of the
session row (see `web.booking_rules.lock_sessions`), so counting the seats and taking one
happen in one write transaction and two applicants can never both take the last seat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func

from core.errors import Conflict, NotFound, ValidationFailed
from core.scoping import ProgramScope
from portal import calendar, mail, outbox
from portal.audit import record
from portal.bookings import booked_count
from portal.models import Applicant, Booking, Program
from portal.models_mail import SessionChoice, WaitlistOffer
from portal.people import set_status
from portal.permissions import Actor

WAITLIST_MODES = ("first_come", "sequential")
MAX_CHOICES = 2


@dataclass(frozen=True)
class SessionInfo:
    """What scheduling needs to know about a session (which `rooms` owns)."""

    id: str
    name: str
    capacity: int
    visible: bool
    starts_at: datetime
    ends_at: datetime
    timezone: str
    finalized: bool = False


@dataclass(frozen=True)
class Rules:
    self_scheduling: bool = False
    waitlist_mode: str = "first_come"
    waitlist_modes: Mapping[str, str] = field(default_factory=dict)
    offer_hours: float = 24.0
    manage_deadline_days: int = 0
    reminder_hours: int = 24
    preferences_close_at: datetime | None = None

    def mode_for(self, session_id: str) -> str:
        return self.waitlist_modes.get(session_id, self.waitlist_mode)

    def preference_window_open(self, now: datetime) -> bool:
        return self.preferences_close_at is not None and now < self.preferences_close_at


def _number(value: Any, default: float, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if low <= number <= high else default


def rules_of(options: Mapping[str, Any]) -> Rules:
    """The program's scheduling rules from `Program.options`; a bad value falls back to the
    default rather than stopping every applicant's page."""
    mode = options.get("waitlist_mode", "first_come")
    modes = options.get("waitlist_modes") or {}
    close = options.get("preferences_close_at")
    try:
        close_at = datetime.fromisoformat(close) if isinstance(close, str) else None
    except ValueError:
        close_at = None
    return Rules(
        self_scheduling=bool(options.get("self_scheduling", False)),
        waitlist_mode=mode if mode in WAITLIST_MODES else "first_come",
        waitlist_modes={str(k): str(v) for k, v in dict(modes).items() if v in WAITLIST_MODES},
        offer_hours=_number(options.get("offer_hours"), 24.0, 0.01, 24 * 30),
        manage_deadline_days=int(_number(options.get("manage_deadline_days"), 0, 0, 365)),
        reminder_hours=int(_number(options.get("reminder_hours"), 24, 0, 24 * 60)),
        preferences_close_at=close_at if close_at and close_at.tzinfo else None,
    )


def deadline_of(rules: Rules, session: SessionInfo) -> datetime:
    return session.starts_at - timedelta(days=rules.manage_deadline_days)


def local_time(session: SessionInfo, moment: datetime | None = None) -> str:
    zone = ZoneInfo(session.timezone)
    return mail.format_when((moment or session.starts_at).astimezone(zone), session.timezone)


def closed_reason(rules: Rules, session: SessionInfo, now: datetime) -> str | None:
    """Why seats in this session can no longer be taken, given up or changed (None if open)."""
    if session.finalized:
        return f"{session.name} is finalized; ask the coordinator to change anything."
    if now >= session.starts_at:
        return f"{session.name} has already started."
    deadline = deadline_of(rules, session)
    if now >= deadline:
        days = rules.manage_deadline_days
        return (
            f"Changes to {session.name} closed on {local_time(session, deadline)}, "
            f"{days} day{'s' if days != 1 else ''} before the session. "
            "Contact the program to change it."
        )
    return None


def require_open(rules: Rules, session: SessionInfo, now: datetime) -> None:
    if reason := closed_reason(rules, session, now):
        raise Conflict(reason, field="session_id", code="deadline_passed")


def require_visible(session: SessionInfo) -> None:
    if not session.visible:
        raise NotFound("This session is not open for booking.", field="session_id")


def free_seats(session: SessionInfo, booked: int, held: int) -> int:
    return max(0, session.capacity - booked - held)


async def held_offers(
    scope: ProgramScope, session_id: str, now: datetime, *, except_applicant: str | None = None
) -> int:
    """Seats held for open sequential offers, which nobody else may take meanwhile."""
    offers = await scope.all(
        WaitlistOffer,
        WaitlistOffer.session_id == session_id,
        WaitlistOffer.status == "open",
        WaitlistOffer.mode == "sequential",
    )
    return sum(
        1
        for o in offers
        if o.expires_at is not None and o.expires_at > now and o.applicant_id != except_applicant
    )


async def seats_left(
    scope: ProgramScope, session: SessionInfo, now: datetime, *, for_applicant: str | None = None
) -> int:
    held = await held_offers(scope, session.id, now, except_applicant=for_applicant)
    return free_seats(session, await booked_count(scope, session.id), held)


async def bookings_of(scope: ProgramScope, applicant_id: str) -> list[Booking]:
    return await scope.all(Booking, Booking.applicant_id == applicant_id)


def _own_applicant_check(actor: Actor, applicant: Applicant) -> None:
    if actor.kind == "applicant" and actor.id != applicant.id:
        raise NotFound("No such applicant.", field="applicant_id")


def require_invited(applicant: Applicant) -> None:
    if applicant.status == "scheduled":
        raise Conflict(
            "You already have an interview booked; reschedule it instead.", code="already_booked"
        )
    if applicant.status != "invited":
        raise Conflict("Choosing a session is open to invited applicants only.", code="not_invited")


# Emails ----------------------------------------------------------------------------------


def interview_uid(applicant_id: str) -> str:
    # One calendar event per applicant, updated in place by a reschedule (same UID, later
    # SEQUENCE) and removed by a cancellation.
    return f"interview-{applicant_id}@interviewday"


def session_ics(session: SessionInfo, applicant_id: str, now: datetime, *, cancel: bool) -> str:
    event = calendar.CalendarEvent(
        uid=interview_uid(applicant_id),
        summary=f"Interview: {session.name}",
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        timezone=session.timezone,
        sequence=int(now.timestamp()),
    )
    return calendar.ics(event, method="CANCEL" if cancel else "PUBLISH", stamp=now)


async def program_name(scope: ProgramScope) -> str:
    program = await scope.db.get(Program, scope.program_id)
    return program.name if program else ""


async def notify(
    scope: ProgramScope,
    applicant: Applicant,
    kind: str,
    key: str,
    session: SessionInfo,
    now: datetime,
    *,
    ics: str | None = None,
    **extra: str,
) -> None:
    context = {
        "program": await program_name(scope),
        "session": session.name,
        "session_time": local_time(session),
        **extra,
    }
    await outbox.enqueue(
        scope,
        key=key,
        kind=kind,
        recipient=outbox.applicant_recipient(applicant),
        context=context,
        now=now,
        ics=ics,
    )


async def confirm(
    scope: ProgramScope, applicant: Applicant, booking: Booking, session: SessionInfo, now: datetime
) -> None:
    await notify(
        scope,
        applicant,
        "confirmation",
        f"confirmation:{booking.id}:{session.id}:{int(now.timestamp())}",
        session,
        now,
        ics=session_ics(session, applicant.id, now, cancel=False),
    )


# Booking ---------------------------------------------------------------------------------


async def book_self(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    session: SessionInfo,
    rules: Rules,
    now: datetime,
    *,
    source: str = "self",
) -> Booking:
    """Takes a seat for an invited applicant. The caller holds the session's row lock."""
    _own_applicant_check(actor, applicant)
    require_visible(session)
    require_invited(applicant)
    require_open(rules, session, now)
    mine = await bookings_of(scope, applicant.id)
    here = next((b for b in mine if b.session_id == session.id), None)
    if here is not None and here.status == "scheduled":
        raise Conflict(f"You are already booked in {session.name}.", code="already_booked")
    if await seats_left(scope, session, now, for_applicant=applicant.id) <= 0:
        raise Conflict(
            f"{session.name} is full. Join its waitlist or choose another session.",
            field="session_id",
            code="session_full",
        )
    booking = here or scope.add(Booking(session_id=session.id, applicant_id=applicant.id))
    booking.status = "scheduled"
    booking.source = source
    booking.position = 0
    booking.created_at = now
    await scope.db.flush()
    set_status(scope, actor, applicant, "scheduled")
    record(scope.db, actor, "booking.self", "booking", booking.id, session_id=session.id)
    await confirm(scope, applicant, booking, session, now)
    return booking


@dataclass(frozen=True)
class ChoiceOutcome:
    booking: Booking | None
    session: SessionInfo | None
    message: str


async def save_choices(
    scope: ProgramScope, applicant_id: str, session_ids: Sequence[str], now: datetime
) -> None:
    await scope.db.execute(
        delete(SessionChoice).where(
            SessionChoice.program_id == scope.program_id,
            SessionChoice.applicant_id == applicant_id,
        )
    )
    for rank, session_id in enumerate(session_ids, start=1):
        scope.add(
            SessionChoice(
                applicant_id=applicant_id, session_id=session_id, rank=rank, created_at=now
            )
        )
    await scope.db.flush()


async def choices_of(scope: ProgramScope, applicant_id: str) -> list[SessionChoice]:
    rows = await scope.all(SessionChoice, SessionChoice.applicant_id == applicant_id)
    return sorted(rows, key=lambda c: c.rank)


def check_choice_list(session_ids: Sequence[str], most: int) -> None:
    if not session_ids:
        raise ValidationFailed("Choose a session.", field="session_ids")
    if len(set(session_ids)) != len(session_ids):
        raise ValidationFailed(
            "Your first and second choice are the same session; pick two different ones.",
            field="session_ids",
        )
    if len(session_ids) > most:
        raise ValidationFailed(f"Choose at most {most} sessions.", field="session_ids")


async def choose(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    sessions: Sequence[SessionInfo],
    rules: Rules,
    now: datetime,
) -> ChoiceOutcome:
    """First (and second) choice. With self-scheduling the first with a free seat is booked at
    once; otherwise the choices wait for the coordinator."""
    _own_applicant_check(actor, applicant)
    check_choice_list([s.id for s in sessions], MAX_CHOICES)
    require_invited(applicant)
    if rules.preference_window_open(now):
        raise Conflict(
            "Sessions are assigned from everyone's rankings when the preference window "
            "closes; rank the sessions you can attend instead.",
            code="preference_window",
        )
    for session in sessions:
        require_visible(session)
    await save_choices(scope, applicant.id, [s.id for s in sessions], now)
    if not rules.self_scheduling:
        return ChoiceOutcome(
            None, None, "Your choices are saved. The coordinator will assign your session."
        )
    reasons = []
    for session in sessions:
        if reason := closed_reason(rules, session, now):
            reasons.append(reason)
            continue
        if await seats_left(scope, session, now, for_applicant=applicant.id) <= 0:
            reasons.append(f"{session.name} is full.")
            continue
        booking = await book_self(scope, actor, applicant, session, rules, now)
        return ChoiceOutcome(booking, session, f"You are booked for {session.name}.")
    raise Conflict(
        " ".join(reasons) + " Join a waitlist or choose another session.",
        field="session_ids",
        code="session_full",
    )


async def cancel(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    booking_id: str,
    session: SessionInfo,
    rules: Rules,
    now: datetime,
) -> Booking:
    """Gives up a seat (or leaves a waitlist). The caller then offers the seat onwards."""
    _own_applicant_check(actor, applicant)
    booking = await scope.get(Booking, booking_id, what="booking")
    if booking.applicant_id != applicant.id or booking.session_id != session.id:
        raise NotFound("No such booking.", field="booking_id")
    if booking.status == "scheduled":
        require_open(rules, session, now)
    await _withdraw_offers(scope, applicant.id, session.id, now)
    await scope.db.delete(booking)
    await scope.db.flush()
    record(
        scope.db,
        actor,
        "booking.cancel",
        "booking",
        booking.id,
        session_id=session.id,
        status=booking.status,
    )
    if booking.status == "scheduled":
        left = [b for b in await bookings_of(scope, applicant.id) if b.status == "scheduled"]
        if not left and applicant.status == "scheduled":
            set_status(scope, actor, applicant, "invited")
        await notify(
            scope,
            applicant,
            "cancellation",
            f"cancellation:{booking.id}",
            session,
            now,
            ics=session_ics(session, applicant.id, now, cancel=True),
        )
    return booking


async def _withdraw_offers(
    scope: ProgramScope, applicant_id: str, session_id: str, now: datetime
) -> None:
    for offer in await scope.all(
        WaitlistOffer,
        WaitlistOffer.applicant_id == applicant_id,
        WaitlistOffer.session_id == session_id,
        WaitlistOffer.status == "open",
    ):
        offer.status = "withdrawn"
        offer.responded_at = now


async def reschedule(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    booking_id: str,
    old: SessionInfo,
    new: SessionInfo,
    rules: Rules,
    now: datetime,
    *,
    via_offer: bool = False,
) -> Booking:
    """Moves a seat in one step: the old seat is given up only once the new one is secured (one
    transaction does both). The caller then offers the old seat onwards."""
    _own_applicant_check(actor, applicant)
    booking = await scope.get(Booking, booking_id, what="booking")
    if booking.applicant_id != applicant.id or booking.status != "scheduled":
        raise NotFound("No such booking.", field="booking_id")
    if booking.session_id != old.id:
        raise NotFound("No such booking.", field="booking_id")
    if old.id == new.id:
        raise ValidationFailed(f"You are already booked in {new.name}.", field="session_id")
    if not via_offer:
        require_visible(new)
    require_open(rules, old, now)
    require_open(rules, new, now)
    if await seats_left(scope, new, now, for_applicant=applicant.id) <= 0:
        raise Conflict(
            f"{new.name} is full; your seat in {old.name} is kept.",
            field="session_id",
            code="session_full",
        )
    for other in await scope.all(
        Booking, Booking.applicant_id == applicant.id, Booking.session_id == new.id
    ):
        await scope.db.delete(other)  # a waitlist place there is fulfilled
    await scope.db.flush()
    booking.session_id = new.id
    booking.created_at = now
    record(scope.db, actor, "booking.reschedule", "booking", booking.id, old=old.id, new=new.id)
    await confirm(scope, applicant, booking, new, now)
    return booking


async def join_waitlist(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    session: SessionInfo,
    rules: Rules,
    now: datetime,
) -> Booking:
    _own_applicant_check(actor, applicant)
    require_visible(session)
    if applicant.status not in ("invited", "scheduled"):
        raise Conflict("Waitlists are open to invited applicants only.", code="not_invited")
    require_open(rules, session, now)
    mine = await bookings_of(scope, applicant.id)
    if any(b.session_id == session.id for b in mine):
        raise Conflict(f"You are already on {session.name}.", code="already_listed")
    if await seats_left(scope, session, now, for_applicant=applicant.id) > 0:
        raise Conflict(f"{session.name} has free seats; book one instead.", code="seats_free")
    last = await scope.db.scalar(
        scope.select(Booking)
        .with_only_columns(func.max(Booking.position))
        .where(Booking.session_id == session.id, Booking.status == "waitlisted")
    )
    booking = scope.add(
        Booking(
            session_id=session.id,
            applicant_id=applicant.id,
            status="waitlisted",
            position=int(last or 0) + 1,
            source="waitlist",
            created_at=now,
        )
    )
    await scope.db.flush()
    record(scope.db, actor, "waitlist.join", "booking", booking.id, session_id=session.id)
    return booking
