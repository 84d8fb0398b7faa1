"""The background jobs, wired: delivery (SMTP or the database outbox), waitlist windows,
reminders before a session and emails about changes to a published schedule.

`portal.jobs` decides what is due; this module knows where the data lives (sessions belong to
`rooms`, bookings and mail to `portal`). Started once per app by `background_jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import Select, event, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.scoping import ProgramScope
from core.settings import Settings
from portal import jobs, mail, outbox, scheduling, waitlists
from portal.auth import Auth
from portal.models import Applicant, Booking, Program, Staff
from portal.models_mail import MailMark, OutboxMessage, WaitlistOffer
from rooms.models import InterviewSession, ItineraryChange
from web.booking_rules import lock_sessions, program_rules, session_info
from web.keys import AUTH, CLOCK, DB, SETTINGS

# Several edits in a row reach each person as one email.
CHANGE_SETTLE = timedelta(seconds=60)
log = logging.getLogger("interviewday.jobs")


def transport_for(settings: Settings) -> outbox.Transport:
    if settings.smtp_url:
        return outbox.SmtpTransport(settings.smtp_url)
    return outbox.DatabaseOutbox()


@dataclass
class Jobs:
    factory: async_sessionmaker[AsyncSession]
    clock: Clock
    settings: Settings
    auth: Auth
    transport: outbox.Transport
    loop: jobs.Loop = field(init=False)
    from_address: str = field(init=False)

    def __post_init__(self) -> None:
        self.loop = jobs.Loop(self.clock, self.collect, self.run)
        self.from_address = outbox.sender_address(self.settings.smtp_url, self.settings.public_url)
        # Refused at start-up, loudly: a broken From would hold back every email.
        if problem := mail.header_problem(self.from_address):
            raise ValueError(f"SMTP_URL's from= {problem}")

    def wake(self) -> None:
        self.loop.wake()

    async def run_due(self) -> datetime:
        """One pass of everything due now (tests call this instead of waiting)."""
        return await self.loop.once()

    # What is due ------------------------------------------------------------------------

    async def collect(self, now: datetime) -> list[jobs.Timer]:
        timers: list[jobs.Timer] = []
        async with self.factory() as db:
            if (at := await outbox.next_due_at(db)) is not None:
                timers.append(jobs.Timer("deliver", at))
            expiry = await db.scalar(
                select(WaitlistOffer.expires_at)
                .where(WaitlistOffer.status == "open", WaitlistOffer.mode == "sequential")
                .order_by(WaitlistOffer.expires_at)
                .limit(1)
            )
            if expiry is not None:
                timers.append(jobs.Timer("offer_expiry", expiry))
            for _, at in await self._reminders_pending(db, now):
                timers.append(jobs.Timer("reminders", at))
            oldest = await db.scalar(
                self._unsent_changes().with_only_columns(ItineraryChange.created_at).limit(1)
            )
            if oldest is not None:
                timers.append(jobs.Timer("schedule_changes", oldest + CHANGE_SETTLE))
        return timers

    async def run(self, kinds: list[jobs.JobKind], now: datetime) -> None:
        for kind in kinds:
            # One failing kind of work (logged, tried again at the next poll) never keeps the
            # others, nor delivery, from running.
            try:
                if kind == "offer_expiry":
                    await self.expire_offers(now)
                elif kind == "reminders":
                    await self.send_reminders(now)
                elif kind == "schedule_changes":
                    await self.send_change_emails(now)
            except Exception:
                log.exception("background job %s failed; trying again later", kind)
        # Whatever the jobs above queued goes out in the same pass.
        await self.deliver()

    async def deliver(self) -> outbox.DeliveryReport:
        return await outbox.deliver_due(
            self.factory,
            self.transport,
            self.link_for,
            self.clock,
            from_address=self.from_address,
        )

    async def link_for(self, db: AsyncSession, row: OutboxMessage) -> str:
        base = self.settings.public_url
        if row.applicant_id is None:
            return f"{base}/login"
        applicant = await db.get(Applicant, row.applicant_id)
        if applicant is None:
            return f"{base}/a/request-link"
        if row.kind == "new_link":
            await self.auth.revoke_magic_links(db, applicant)
        return f"{base}/a/{await self.auth.issue_magic_link(db, applicant)}"

    # Waitlist windows -------------------------------------------------------------------

    async def expire_offers(self, now: datetime) -> None:
        async with self.factory() as db:
            rows = (
                await db.execute(
                    select(WaitlistOffer.program_id, WaitlistOffer.session_id)
                    .where(WaitlistOffer.status == "open", WaitlistOffer.expires_at <= now)
                    .distinct()
                )
            ).tuples()
            by_program: dict[str, list[str]] = {}
            for program_id, session_id in rows:
                by_program.setdefault(program_id, []).append(session_id)
        for program_id, session_ids in by_program.items():
            try:
                await self._expire_offers_of(program_id, session_ids, now)
            except Exception:  # one program's trouble never holds back another's offers
                log.exception("waitlist offers of program %s failed; trying again", program_id)

    async def _expire_offers_of(
        self, program_id: str, session_ids: list[str], now: datetime
    ) -> None:
        async with self.factory() as db, db.begin():
            scope = ProgramScope(db, program_id)
            # Locked first, so two workers cannot both pass the same seat on.
            locked = await lock_sessions(scope, session_ids)
            rules = await program_rules(scope)
            for session_id in await waitlists.expire(scope, now):
                if session_id in locked:
                    await waitlists.seat_opened(scope, locked[session_id], rules, now)

    # Reminders --------------------------------------------------------------------------

    async def _reminders_pending(
        self, db: AsyncSession, now: datetime
    ) -> list[tuple[InterviewSession, datetime]]:
        earliest = (now - timedelta(days=1)).date()
        sessions = list(
            await db.scalars(select(InterviewSession).where(InterviewSession.date >= earliest))
        )
        if not sessions:
            return []
        marked = set(
            await db.scalars(
                select(MailMark.key).where(
                    MailMark.key.in_([f"reminders:{s.id}" for s in sessions])
                )
            )
        )
        pending = []
        rules_by_program: dict[str, scheduling.Rules] = {}
        for session in sessions:
            if f"reminders:{session.id}" in marked:
                continue
            if session.program_id not in rules_by_program:
                program = await db.get(Program, session.program_id)
                rules_by_program[session.program_id] = scheduling.rules_of(
                    program.options if program else {}
                )
            rules = rules_by_program[session.program_id]
            try:
                info = await session_info(ProgramScope(db, session.program_id), session)
            except (ValueError, LookupError) as exc:  # e.g. a time zone that does not exist
                # Skipped, not raised: one session that cannot be placed in time never holds
                # back the other programs' reminders and mail.
                log.warning("session %s has no reminders: %r", session.id, exc)
                continue
            if info.starts_at <= now or rules.reminder_hours <= 0:
                continue
            pending.append((session, info.starts_at - timedelta(hours=rules.reminder_hours)))
        return pending

    async def send_reminders(self, now: datetime) -> None:
        async with self.factory() as db:
            due = [
                (s.program_id, s.id)
                for s, at in await self._reminders_pending(db, now)
                if at <= now
            ]
        for program_id, session_id in due:
            try:
                with contextlib.suppress(IntegrityError):  # another worker did it meanwhile
                    await self._remind(program_id, session_id, now)
            except Exception:  # one session's trouble never holds back the others' reminders
                log.exception("reminders for session %s failed; trying again", session_id)

    async def _remind(self, program_id: str, session_id: str, now: datetime) -> None:
        async with self.factory() as db, db.begin():
            scope = ProgramScope(db, program_id)
            scope.add(MailMark(key=f"reminders:{session_id}", created_at=now))
            await db.flush()
            session = await scope.get(InterviewSession, session_id, what="session")
            info = await session_info(scope, session)
            rules = await program_rules(scope)
            reminder_at = info.starts_at - timedelta(hours=rules.reminder_hours)
            rows = await db.execute(
                scope.select(Booking)
                .join(Applicant, Applicant.id == Booking.applicant_id)
                .where(Booking.session_id == session_id, Booking.status == "scheduled")
                .with_only_columns(Booking, Applicant)
            )
            for booking, applicant in rows.tuples():
                if booking.created_at > reminder_at:
                    continue  # booked after the reminder time: the confirmation was enough
                await scheduling.notify(
                    scope,
                    applicant,
                    "reminder",
                    f"reminder:{session_id}:{applicant.id}",
                    info,
                    now,
                    ics=scheduling.session_ics(info, applicant.id, now, cancel=False),
                )

    # Schedule changes -------------------------------------------------------------------

    def _unsent_changes(self) -> Select[tuple[ItineraryChange]]:
        mark = select(MailMark.id).where(
            MailMark.program_id == ItineraryChange.program_id,
            MailMark.key == literal("change:") + ItineraryChange.id,
        )
        return (
            select(ItineraryChange)
            .where(~mark.exists())
            .order_by(ItineraryChange.created_at, ItineraryChange.id)
        )

    async def send_change_emails(self, now: datetime) -> None:
        settled = ItineraryChange.created_at <= now - CHANGE_SETTLE
        async with self.factory() as db:
            programs = set(
                await db.scalars(
                    self._unsent_changes()
                    .where(settled)
                    .with_only_columns(ItineraryChange.program_id)
                    .order_by(None)
                )
            )
        # One transaction per program: one program's trouble never holds back another's.
        for program_id in sorted(programs):
            try:
                with contextlib.suppress(IntegrityError):  # another worker sent them meanwhile
                    await self._send_change_emails(program_id, now)
            except Exception:
                log.exception("change emails of program %s failed; trying again", program_id)

    async def _send_change_emails(self, program_id: str, now: datetime) -> None:
        async with self.factory() as db, db.begin():
            changes = list(
                await db.scalars(
                    self._unsent_changes().where(
                        ItineraryChange.created_at <= now - CHANGE_SETTLE,
                        ItineraryChange.program_id == program_id,
                    )
                )
            )
            groups: dict[tuple[str, str, str | None, str | None], list[ItineraryChange]] = {}
            for change in changes:
                key = (change.program_id, change.session_id, change.applicant_id, change.staff_id)
                groups.setdefault(key, []).append(change)
            for (program_id, session_id, applicant_id, staff_id), items in groups.items():
                scope = ProgramScope(db, program_id)
                session = await scope.get(InterviewSession, session_id, what="session")
                info = await session_info(scope, session)
                recipient = await self._recipient(scope, applicant_id, staff_id)
                for change in items:
                    scope.add(MailMark(key=f"change:{change.id}", created_at=now))
                if recipient is None:
                    continue
                program = await db.get(Program, program_id)
                await outbox.enqueue(
                    scope,
                    key=f"changes:{items[0].id}:{applicant_id or staff_id}",
                    kind="schedule_change",
                    recipient=recipient,
                    context={
                        "program": program.name if program else "",
                        "session": info.name,
                        "session_time": scheduling.local_time(info),
                        "changes": "\n".join(f"- {c.message}" for c in items),
                    },
                    now=now,
                )

    async def _recipient(
        self, scope: ProgramScope, applicant_id: str | None, staff_id: str | None
    ) -> outbox.Recipient | None:
        if applicant_id is not None:
            applicant = await scope.find(Applicant, applicant_id)
            return outbox.applicant_recipient(applicant) if applicant else None
        if staff_id is not None:
            staff = await scope.find(Staff, staff_id)
            if staff is not None and staff.active:
                first = staff.name.split(" ")[0]
                return outbox.Recipient(staff.email, staff.name, first, staff_id=staff.id)
        return None


JOBS = web.AppKey("jobs", Jobs)


async def background_jobs(app: web.Application) -> AsyncIterator[None]:
    """The app's cleanup context: one jobs loop per process, stopped with the app."""
    settings = app[SETTINGS]
    runner = Jobs(app[DB], app[CLOCK], settings, app[AUTH], transport_for(settings))
    app[JOBS] = runner
    task = asyncio.create_task(runner.loop.run_forever(), name="interviewday-jobs")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def wake_after_commit(db: AsyncSession, app: web.Application) -> None:
    """Pokes the jobs loop once this transaction commits, so what it queued goes out now
    (poked earlier, the loop would look before the rows are visible)."""
    event.listen(db.sync_session, "after_commit", lambda _session: wake(app), once=True)


def wake(app: web.Application) -> None:
    """New mail was queued: deliver it now rather than at the next poll."""
    runner = app.get(JOBS)
    if runner is not None:
        runner.wake()
