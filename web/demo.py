"""The demo program: idempotent, so `make run` can seed it every time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.security import Passwords
from portal.models import Applicant, Booking, Program, Staff
from rooms.models import InterviewSession, MeetingRoom, Room, RoomInterviewer, Round
from scoring.models import ScoringForm, ScoringItem

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


@dataclass(frozen=True)
class DemoLogins:
    staff: tuple[tuple[str, str], ...]
    applicant_email: str


def demo_staff() -> tuple[tuple[str, str, str], ...]:
    people = [
        ("director@demo.test", "Dana Director", "director"),
        ("coordinator@demo.test", "Cole Coordinator", "coordinator"),
    ]
    people += [
        (f"interviewer{i}@demo.test", f"Interviewer {i}", "interviewer") for i in range(1, 9)
    ]
    return tuple(people)


async def seed_demo(db: AsyncSession, passwords: Passwords, today: date) -> DemoLogins:
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
    staff = tuple((email, DEMO_PASSWORD) for email, _, _ in demo_staff())
    return DemoLogins(staff=staff, applicant_email=_applicant_email(0))


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
