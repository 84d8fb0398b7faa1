"""The demo program: idempotent, so `make run` can seed it every time.

Besides two future days, it keeps one day *today* that starts a few minutes after the seed runs
(`LIVE_SESSION`): short rounds, applicants booked, the itinerary published, so that
`interviewday demo --live` (web/demo_live.py) can fill its rooms with bots and a newcomer sees
the clock carry people from room to room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.scoping import ProgramScope
from core.security import Passwords
from portal.models import Applicant, Booking, Program, Staff
from rooms import itineraries
from rooms.models import InterviewSession, MeetingRoom, Room, RoomInterviewer, Round
from scoring.models import ScoringForm, ScoringItem
from timetrack.models import DayRun
from timetrack.state import state_from_json
from web.session_data import applicant_names

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_TIMEZONE = "America/New_York"

FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farah",
    "Gabe",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Marco",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
)
LAST_NAMES = (
    "Nguyen",
    "Okafor",
    "Patel",
    "Garcia",
    "Kim",
    "Schmidt",
    "Rossi",
    "Haddad",
    "Silva",
    "Cohen",
)
SCHOOLS = ("Johns Hopkins SOM", "UCSF", "Michigan Medical School", "Baylor COM", "Emory SOM")
# Mixed statuses, so every screen has something to show.
# The first eight are booked (four per session, one per room); the rest cycle.
BOOKED = 8
STATUS_CYCLE = (
    "invited",
    "candidate",
    "waitlist",
    "invited",
    "declined",
    "candidate",
    "withdrawn",
    "invited",
)
FORM_ITEMS = (
    ("Clinical reasoning", 2.0),
    ("Communication", 1.5),
    ("Professionalism", 1.0),
    ("Teamwork", 1.0),
    ("Fit with the program", 1.0),
)


# Today's day: it starts a few minutes after the seed, and each round lasts three minutes
# (a 2-minute interview, a 1-minute review), so the clock carries people within two minutes
# of the start. Interviewers 1-4 take its rooms; applicants 09-12 are booked into it.
LIVE_SESSION = "Today's demo day"
LIVE_LEAD = timedelta(minutes=3)
LIVE_INTERVIEW_MINUTES = 2
LIVE_REVIEW_MINUTES = 1
LIVE_KNOCK_MINUTES = 1
LIVE_ROUNDS = 4
LIVE_ROOMS = 4
LIVE_FIRST_APPLICANT = 8
COORDINATOR_EMAIL = "coordinator@demo.test"


@dataclass(frozen=True)
class LiveDay:
    """Today's demo day, as `demo` leaves it."""

    session_id: str
    starts_at: datetime
    """As scheduled, in the demo's time zone."""
    running: bool
    """Its day had already started (and is not over): the seed left it as it was."""
    interviewer_emails: tuple[str, ...]
    applicant_emails: tuple[str, ...]
    """In booking order; the first is the one `demo --live` leaves for a person."""


@dataclass(frozen=True)
class DemoLogins:
    staff: tuple[tuple[str, str], ...]
    applicant_email: str
    """The applicant a person can be: booked into today's day."""
    live: LiveDay


def demo_staff() -> tuple[tuple[str, str, str], ...]:
    people = [
        ("director@demo.test", "Dana Director", "director"),
        ("coordinator@demo.test", "Cole Coordinator", "coordinator"),
    ]
    people += [
        (f"interviewer{i}@demo.test", f"Interviewer {i}", "interviewer") for i in range(1, 9)
    ]
    return tuple(people)


async def seed_demo(db: AsyncSession, passwords: Passwords, clock: Clock) -> DemoLogins:
    """Creates the demo program once; every run (re)schedules today's day (`ensure_live_day`)."""
    today = datetime.fromtimestamp(clock.now(), ZoneInfo(DEMO_TIMEZONE)).date()
    program = await db.scalar(select(Program).where(Program.slug == DEMO_SLUG))
    if program is None:
        program = Program(
            name="Demo Internal Medicine Residency",
            slug=DEMO_SLUG,
            timezone=DEMO_TIMEZONE,
            options={"self_scheduling": True},
        )
        db.add(program)
        await db.flush()
        await _seed_people(db, program, passwords)
        await _seed_sessions(db, program, today)
    live = await ensure_live_day(db, program, clock)
    staff = tuple((email, DEMO_PASSWORD) for email, _, _ in demo_staff())
    return DemoLogins(staff=staff, applicant_email=live.applicant_emails[0], live=live)


def live_start(now: float) -> datetime:
    """`LIVE_LEAD` from now, rounded up to the minute, in the demo's time zone."""
    local = datetime.fromtimestamp(now, ZoneInfo(DEMO_TIMEZONE)) + LIVE_LEAD
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return local


async def ensure_live_day(db: AsyncSession, program: Program, clock: Clock) -> LiveDay:
    """Today's day, starting soon: created if missing, rescheduled if it has not started,
    left alone while it runs, and replaced by a fresh one once it is over (or was another
    day's), so `make run` on any day shows a day about to start."""
    now = clock.now()
    starts = live_start(now)
    session = await db.scalar(
        select(InterviewSession).where(
            InterviewSession.program_id == program.id, InterviewSession.name == LIVE_SESSION
        )
    )
    if session is not None:
        run = await db.get(DayRun, session.id)
        state = state_from_json(run.plan) if run is not None else None
        if state is None or not state.started:
            # A day not started yet may be rescheduled; its stored plan (if a server built
            # one) has the old time, so it goes and the next build reads the new one.
            if run is not None:
                await db.delete(run)
            session.date, session.start_time = starts.date(), starts.time().replace(tzinfo=None)
        elif state.ended or session.date != starts.date() or state.plan.end <= now:
            await db.delete(session)  # the database cascades to its rooms, bookings, day
            await db.flush()
            session = None
        else:
            local = datetime.combine(
                session.date, session.start_time, tzinfo=ZoneInfo(session.timezone)
            )
            return _describe_live(session, local, running=True)
    if session is None:
        session = await _create_live_session(db, program, starts, clock)
    await db.flush()
    return _describe_live(session, starts, running=False)


async def _create_live_session(
    db: AsyncSession, program: Program, starts: datetime, clock: Clock
) -> InterviewSession:
    session = InterviewSession(
        program_id=program.id,
        name=LIVE_SESSION,
        date=starts.date(),
        start_time=starts.time().replace(tzinfo=None),
        timezone=DEMO_TIMEZONE,
        mode="native",
        interview_minutes=LIVE_INTERVIEW_MINUTES,
        review_minutes=LIVE_REVIEW_MINUTES,
        knock_minutes=LIVE_KNOCK_MINUTES,
        capacity=LIVE_ROOMS,
        visible=True,
    )
    db.add(session)
    await db.flush()
    form = await db.scalar(
        select(ScoringForm)
        .where(ScoringForm.program_id == program.id, ScoringForm.is_current.is_(True))
        .order_by(ScoringForm.created_at)
    )
    for number in range(1, LIVE_ROUNDS + 1):
        db.add(Round(program_id=program.id, session_id=session.id, number=number))
    for position, email in enumerate(_live_interviewer_emails()):
        interviewer = await db.scalar(
            select(Staff).where(Staff.program_id == program.id, Staff.email == email)
        )
        assert interviewer is not None, email
        room = Room(
            program_id=program.id,
            session_id=session.id,
            name=f"Room {position + 1}",
            position=position,
            scoring_form_id=form.id if form else None,
        )
        db.add(room)
        await db.flush()
        db.add(RoomInterviewer(program_id=program.id, room_id=room.id, staff_id=interviewer.id))
    booked: list[str] = []
    for position, email in enumerate(_live_applicant_emails()):
        applicant = await db.scalar(
            select(Applicant).where(Applicant.program_id == program.id, Applicant.email == email)
        )
        assert applicant is not None, email
        applicant.status = "scheduled"
        db.add(
            Booking(
                program_id=program.id,
                session_id=session.id,
                applicant_id=applicant.id,
                position=position,
            )
        )
        booked.append(applicant.id)
    await db.flush()
    # What Generate and Publish do on the itinerary page, without the HTTP.
    scope = ProgramScope(db, program.id)
    names = await applicant_names(scope, booked)
    itinerary, _ = await itineraries.generate(scope, session, booked, clock, names)
    await itineraries.publish(scope, itinerary, clock)
    return session


def _live_interviewer_emails() -> tuple[str, ...]:
    return tuple(f"interviewer{i}@demo.test" for i in range(1, LIVE_ROOMS + 1))


def _live_applicant_emails() -> tuple[str, ...]:
    first = LIVE_FIRST_APPLICANT
    return tuple(_applicant_email(i) for i in range(first, first + LIVE_ROOMS))


def _describe_live(session: InterviewSession, starts: datetime, *, running: bool) -> LiveDay:
    return LiveDay(
        session_id=session.id,
        starts_at=starts,
        running=running,
        interviewer_emails=_live_interviewer_emails(),
        applicant_emails=_live_applicant_emails(),
    )


def _applicant_email(i: int) -> str:
    return f"applicant{i + 1:02d}@demo.test"


async def _seed_people(db: AsyncSession, program: Program, passwords: Passwords) -> None:
    hashed = passwords.hash(DEMO_PASSWORD)
    for email, name, role in demo_staff():
        db.add(
            Staff(program_id=program.id, email=email, name=name, role=role, password_hash=hashed)
        )
    for i in range(40):
        db.add(
            Applicant(
                program_id=program.id,
                email=_applicant_email(i),
                first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                last_name=LAST_NAMES[(i * 7) % len(LAST_NAMES)],
                status="scheduled" if i < BOOKED else STATUS_CYCLE[i % len(STATUS_CYCLE)],
                medical_school=SCHOOLS[i % len(SCHOOLS)],
                aamc_id=f"{14000000 + i}",
            )
        )
    await db.flush()


async def _seed_sessions(db: AsyncSession, program: Program, today: date) -> None:
    form = ScoringForm(program_id=program.id, family_id="", name="Standard interview form")
    db.add(form)
    await db.flush()
    form.family_id = form.id
    for position, (label, weight) in enumerate(FORM_ITEMS):
        db.add(
            ScoringItem(
                program_id=program.id,
                form_id=form.id,
                position=position,
                kind="rating",
                label=label,
                weight=weight,
                required=True,
            )
        )
    db.add(
        ScoringItem(
            program_id=program.id,
            form_id=form.id,
            position=len(FORM_ITEMS),
            kind="comment",
            label="Comments",
            weight=0,
            required=False,
        )
    )
    interviewers = list(
        (
            await db.scalars(
                select(Staff)
                .where(Staff.program_id == program.id, Staff.role == "interviewer")
                .order_by(Staff.email)
            )
        ).all()
    )
    applicants = list(
        (
            await db.scalars(
                select(Applicant)
                .where(Applicant.program_id == program.id)
                .order_by(Applicant.email)
            )
        ).all()
    )
    for offset in (1, 2):
        day = today + timedelta(days=offset)
        session = InterviewSession(
            program_id=program.id,
            name=f"Interview Day {offset}",
            date=day,
            start_time=time(9, 0),
            timezone=DEMO_TIMEZONE,
            mode="native",
            interview_minutes=20,
            review_minutes=5,
            capacity=4,
            visible=True,
        )
        db.add(session)
        await db.flush()
        for number in range(1, 5):
            db.add(Round(program_id=program.id, session_id=session.id, number=number))
        for r in range(4):
            room = Room(
                program_id=program.id,
                session_id=session.id,
                name=f"Room {r + 1}",
                position=r,
                scoring_form_id=form.id,
            )
            db.add(room)
            await db.flush()
            # Session 1 uses interviewers 1-4, session 2 uses 5-8.
            interviewer = interviewers[(offset - 1) * 4 + r]
            db.add(RoomInterviewer(program_id=program.id, room_id=room.id, staff_id=interviewer.id))
        for i in range((offset - 1) * 4, offset * 4):
            db.add(
                Booking(
                    program_id=program.id,
                    session_id=session.id,
                    applicant_id=applicants[i].id,
                    position=i % 4,
                )
            )
    welcome_start = datetime.combine(today + timedelta(days=1), time(13, 30), tzinfo=UTC)
    db.add(
        MeetingRoom(
            program_id=program.id,
            name="Welcome & Q&A",
            starts_at=welcome_start,
            ends_at=welcome_start + timedelta(minutes=30),
            audience="both",
        )
    )
    await db.flush()
