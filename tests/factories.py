"""Test data: two programs side by side, to prove that neither sees the other."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.security import Passwords
from portal.models import Applicant, Program, Staff
from rooms.models import Interview, InterviewSession, Itinerary, MeetingRoom, Room, RoomInterviewer
from scoring.models import ScoringForm

PASSWORD = "correct horse battery"


@dataclass
class ProgramData:
    program_id: str
    director_email: str
    coordinator_email: str
    interviewer_email: str
    interviewer_id: str
    applicant_id: str
    other_applicant_id: str
    session_id: str
    room_id: str
    form_id: str
    meeting_room_id: str
    staff_id: str


@dataclass
class World:
    a: ProgramData
    b: ProgramData


@functools.cache
def password_hash() -> str:
    # argon2 is deliberately slow; one hash serves the whole test run.
    return Passwords().hash(PASSWORD)


async def add_program(db: AsyncSession, key: str) -> ProgramData:
    program = Program(name=f"Program {key.upper()}", slug=f"program-{key}")
    db.add(program)
    await db.flush()
    pid = program.id
    director = Staff(
        program_id=pid,
        email=f"director@{key}.test",
        name=f"Director {key}",
        role="director",
        password_hash=password_hash(),
    )
    coordinator = Staff(
        program_id=pid,
        email=f"coordinator@{key}.test",
        name=f"Coord {key}",
        role="coordinator",
        password_hash=password_hash(),
    )
    interviewer = Staff(
        program_id=pid,
        email=f"interviewer@{key}.test",
        name=f"Int {key}",
        role="interviewer",
        password_hash=password_hash(),
    )
    applicant = Applicant(
        program_id=pid,
        email=f"applicant1@{key}.test",
        first_name="Ann",
        last_name=f"Applicant {key}",
        status="invited",
    )
    other = Applicant(
        program_id=pid,
        email=f"applicant2@{key}.test",
        first_name="Bo",
        last_name=f"Applicant {key}",
        status="invited",
    )
    db.add_all([director, coordinator, interviewer, applicant, other])
    form = ScoringForm(program_id=pid, family_id="x", name=f"Form {key}")
    db.add(form)
    await db.flush()
    session = InterviewSession(
        program_id=pid,
        name=f"Session {key}",
        date=date(2027, 1, 15),
        start_time=time(9),
        timezone="America/New_York",
    )
    db.add(session)
    await db.flush()
    room = Room(program_id=pid, session_id=session.id, name="Room 1", scoring_form_id=form.id)
    db.add(room)
    await db.flush()
    db.add(RoomInterviewer(program_id=pid, room_id=room.id, staff_id=interviewer.id))
    meeting = MeetingRoom(
        program_id=pid,
        name="Welcome",
        starts_at=datetime(2027, 1, 15, 13, tzinfo=UTC),
        ends_at=datetime(2027, 1, 15, 14, tzinfo=UTC),
    )
    db.add(meeting)
    await db.flush()
    return ProgramData(
        program_id=pid,
        director_email=director.email,
        coordinator_email=coordinator.email,
        interviewer_email=interviewer.email,
        interviewer_id=interviewer.id,
        applicant_id=applicant.id,
        other_applicant_id=other.id,
        session_id=session.id,
        room_id=room.id,
        form_id=form.id,
        meeting_room_id=meeting.id,
        staff_id=director.id,
    )


async def build_world(factory: async_sessionmaker[AsyncSession]) -> World:
    async with factory() as db, db.begin():
        a = await add_program(db, "a")
        b = await add_program(db, "b")
    return World(a=a, b=b)


async def itinerary_with(
    db: AsyncSession,
    *,
    program_id: str,
    session_id: str,
    room_id: str,
    applicant_id: str,
    round_number: int = 1,
    status: str = "draft",
) -> Itinerary:
    """An itinerary of `session_id` that puts one applicant in one room for one round."""
    itinerary = Itinerary(program_id=program_id, session_id=session_id, status=status)
    db.add(itinerary)
    await db.flush()
    db.add(
        Interview(
            program_id=program_id,
            itinerary_id=itinerary.id,
            session_id=session_id,
            room_id=room_id,
            round_number=round_number,
            applicant_id=applicant_id,
        )
    )
    return itinerary
