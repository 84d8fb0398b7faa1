"""Waitlists: when a seat opens, who hears of it and who gets it.

First-come: everyone on the list is told; the first to claim the seat gets it, the others
find it taken. Sequential: one applicant at a time holds the seat for the response window; if
it lapses the offer passes to the next and the one who let it lapse goes to the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func

from core.errors import Conflict, NotFound
from core.scoping import ProgramScope
from portal.audit import record
from portal.bookings import booked_count
from portal.models import Applicant, Booking
from portal.models_mail import WaitlistOffer
from portal.people import set_status
from portal.permissions import Actor
from portal.scheduling import (
    Rules,
    SessionInfo,
    confirm,
    local_time,
    notify,
    require_open,
    reschedule,
    seats_left,
)


async def waiting(scope: ProgramScope, session_id: str) -> list[Booking]:
    rows = await scope.all(
        Booking, Booking.session_id == session_id, Booking.status == "waitlisted"
    )
    return sorted(rows, key=lambda b: (b.position, b.created_at, b.id))


async def open_offers(scope: ProgramScope, session_id: str) -> list[WaitlistOffer]:
    return await scope.all(
        WaitlistOffer, WaitlistOffer.session_id == session_id, WaitlistOffer.status == "open"
    )


async def seat_opened(
    scope: ProgramScope, session: SessionInfo, rules: Rules, now: datetime
) -> list[WaitlistOffer]:
    """Offers the free seats of `session` to its waitlist; returns the new offers."""
    if session.finalized or now >= session.starts_at:
        return []
    mode = rules.mode_for(session.id)
    free = session.capacity - await booked_count(scope, session.id)
    offers = await open_offers(scope, session.id)
    offered = {o.applicant_id for o in offers}
    if mode == "sequential":
        live = [o for o in offers if o.mode == "sequential"]
        candidates = [b for b in await waiting(scope, session.id) if b.applicant_id not in offered]
        chosen = candidates[: max(0, free - len(live))]
        expires: datetime | None = now + timedelta(hours=rules.offer_hours)
    else:
        chosen = (
            [b for b in await waiting(scope, session.id) if b.applicant_id not in offered]
            if free > 0
            else []
        )
        expires = None
    made = []
    for booking in chosen:
        offer = scope.add(
            WaitlistOffer(
                session_id=session.id,
                applicant_id=booking.applicant_id,
                mode=mode,
                status="open",
                offered_at=now,
                expires_at=expires,
            )
        )
        await scope.db.flush()
        applicant = await scope.get(Applicant, booking.applicant_id, what="applicant")
        respond_by = (
            f"The seat is held for you until {local_time(session, expires)}; "
            "after that it passes to the next person on the waitlist."
            if expires
            else "Everyone on the waitlist is told at once: the first to claim the seat gets it."
        )
        await notify(
            scope,
            applicant,
            "waitlist_offer",
            f"offer:{offer.id}",
            session,
            now,
            respond_by=respond_by,
        )
        record(
            scope.db,
            None,
            "waitlist.offer",
            "waitlist_offer",
            offer.id,
            program_id=scope.program_id,
            applicant_id=applicant.id,
            session_id=session.id,
        )
        made.append(offer)
    return made


@dataclass(frozen=True)
class Claimed:
    booking: Booking
    released_session_id: str | None


async def _offer_of(scope: ProgramScope, actor: Actor, offer_id: str) -> WaitlistOffer:
    offer = await scope.get(WaitlistOffer, offer_id, what="offer")
    if offer.applicant_id != actor.id:
        raise NotFound("No such offer.", field="offer_id")
    return offer


async def claim(
    scope: ProgramScope,
    actor: Actor,
    applicant: Applicant,
    offer_id: str,
    session: SessionInfo,
    current_session: SessionInfo | None,
    rules: Rules,
    now: datetime,
) -> Claimed:
    """Takes the offered seat. A seat held elsewhere is moved in one step (rescheduled), and
    the caller offers the released seat onwards. The caller holds the session locks."""
    offer = await _offer_of(scope, actor, offer_id)
    if offer.session_id != session.id:
        raise NotFound("No such offer.", field="offer_id")
    if offer.status == "claimed":
        raise Conflict("You already claimed this seat.", code="already_claimed")
    if offer.status == "open" and offer.expires_at is not None and offer.expires_at <= now:
        offer.status = "lapsed"
    if offer.status != "open":
        reasons = {
            "lapsed": "This offer lapsed; the seat went to the next person on the waitlist.",
            "taken": "Someone claimed this seat first. You are still on the waitlist.",
        }
        raise Conflict(
            reasons.get(offer.status, "This offer is no longer open."), code=f"offer_{offer.status}"
        )
    require_open(rules, session, now)
    if await seats_left(scope, session, now, for_applicant=applicant.id) <= 0:
        offer.status = "taken"
        offer.responded_at = now
        raise Conflict(
            "Someone claimed this seat first. You are still on the waitlist.", code="offer_taken"
        )
    listed = await scope.all(
        Booking, Booking.applicant_id == applicant.id, Booking.session_id == session.id
    )
    seated = await scope.all(
        Booking, Booking.applicant_id == applicant.id, Booking.status == "scheduled"
    )
    released = None
    if seated:
        if current_session is None or current_session.id != seated[0].session_id:
            raise Conflict("Reload the page and try again.", code="stale")
        booking = await reschedule(
            scope,
            actor,
            applicant,
            seated[0].id,
            current_session,
            session,
            rules,
            now,
            via_offer=True,
        )
        released = current_session.id
    else:
        if not listed:
            raise Conflict("You are no longer on this waitlist.", code="not_listed")
        booking = listed[0]
        booking.status = "scheduled"
        booking.position = 0
        booking.created_at = now
        set_status(scope, actor, applicant, "scheduled")
        await confirm(scope, applicant, booking, session, now)
    offer.status = "claimed"
    offer.responded_at = now
    await scope.db.flush()
    record(scope.db, actor, "waitlist.claim", "waitlist_offer", offer.id, session_id=session.id)
    if await seats_left(scope, session, now) <= 0:
        for other in await open_offers(scope, session.id):
            if other.mode == "first_come":
                other.status = "taken"
    return Claimed(booking, released)


async def decline(scope: ProgramScope, actor: Actor, offer_id: str, now: datetime) -> WaitlistOffer:
    """Declining leaves the waitlist; the caller offers the seat onwards."""
    offer = await _offer_of(scope, actor, offer_id)
    if offer.status != "open":
        return offer
    offer.status = "declined"
    offer.responded_at = now
    for booking in await scope.all(
        Booking,
        Booking.applicant_id == actor.id,
        Booking.session_id == offer.session_id,
        Booking.status == "waitlisted",
    ):
        await scope.db.delete(booking)
    await scope.db.flush()
    record(scope.db, actor, "waitlist.decline", "waitlist_offer", offer.id)
    return offer


async def expire(scope: ProgramScope, now: datetime) -> list[str]:
    """Lapses sequential offers past their window, sends each lapser to the bottom of the list;
    returns the sessions whose seat must be offered to the next person."""
    lapsed = await scope.all(
        WaitlistOffer,
        WaitlistOffer.status == "open",
        WaitlistOffer.mode == "sequential",
        WaitlistOffer.expires_at <= now,
    )
    sessions: list[str] = []
    for offer in lapsed:
        offer.status = "lapsed"
        offer.responded_at = now
        last = await scope.db.scalar(
            scope.select(Booking)
            .with_only_columns(func.max(Booking.position))
            .where(Booking.session_id == offer.session_id, Booking.status == "waitlisted")
        )
        for booking in await scope.all(
            Booking,
            Booking.applicant_id == offer.applicant_id,
            Booking.session_id == offer.session_id,
            Booking.status == "waitlisted",
        ):
            booking.position = int(last or 0) + 1
        record(
            scope.db,
            None,
            "waitlist.lapse",
            "waitlist_offer",
            offer.id,
            program_id=scope.program_id,
            applicant_id=offer.applicant_id,
        )
        if offer.session_id not in sessions:
            sessions.append(offer.session_id)
    await scope.db.flush()
    return sessions


async def next_expiry(scope: ProgramScope) -> datetime | None:
    return await scope.db.scalar(
        scope.select(WaitlistOffer)
        .with_only_columns(func.min(WaitlistOffer.expires_at))
        .where(WaitlistOffer.status == "open", WaitlistOffer.mode == "sequential")
    )
