"""TimeTrack inside the app: building a day from the database, carrying its effects out
through the live hub, one runner per session, and the REST calls of the console."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.errors import Conflict, Forbidden
from core.periodic import Periodic
from core.scoping import ProgramScope
from portal.models import Staff
from portal.permissions import allowed
from rooms import itineraries
from rooms.models import ConflictOfInterest, InterviewSession
from rooms.sessions import interviewers_by_room, rooms_of, rounds_of
from scoring.models import Score
from signaling.hub import (
    LiveHub,
    console_channel,
    person_channel,
    room_channel,
    scope_channel,
    staff_channel,
)
from signaling.presence import Member
from timetrack.commands import Command
from timetrack.effects import Notify, Prompt
from timetrack.models import DayRun
from timetrack.plan import DayPlan, PlanInput, build_plan
from timetrack.runner import DayRunner
from timetrack.state import DayState, RoomInfo
from timetrack.store import DayStore
from web.api.framework import Api, Call
from web.cluster import Cluster, NotTaken, ScopeMoved
from web.forwarding import owned_by
from web.keys import CLOCK, CLUSTER, DB, DB_READ, METRICS
from web.live import HUB, PLACEMENT, room_key, waiting_room_key
from web.session_data import applicant_names

api = Api()
log = logging.getLogger("interviewday.timetrack")
MOVE_NOTICE_SECONDS = 10.0


def participant(session_id: str, kind: str, person_id: str) -> str:
    return f"{session_id}/{kind}:{person_id}"


def plan_input(session: InterviewSession, rounds: list[Any], start: float) -> PlanInput:
    return PlanInput(
        start=start,
        rounds=len(rounds),
        interview_seconds=session.interview_minutes * 60.0,
        review_seconds=session.review_minutes * 60.0,
        breaks={
            r.number: r.break_after_minutes * 60.0
            for r in rounds
            if r.break_after_minutes and r.number < len(rounds)
        },
        knock_seconds=session.knock_minutes * 60.0,
        move_notice_seconds=MOVE_NOTICE_SECONDS if session.review_minutes else 0.0,
    )


async def build_day(scope: ProgramScope, session: InterviewSession) -> tuple[DayState, PlanInput]:
    itinerary = await itineraries.current(scope, session.id)
    if itinerary is None or itinerary.status != "published":
        raise Conflict("Publish the itinerary before running the day.", code="not_published")
    rows = await itineraries.interviews(scope, itinerary)
    rounds = await rounds_of(scope, session.id)
    staff = await interviewers_by_room(scope, session.id)
    rooms = [
        RoomInfo(r.id, r.name, tuple(sorted(staff.get(r.id, []))), r.external_url)
        for r in await rooms_of(scope, session.id)
    ]
    names = await applicant_names(scope, list({r.applicant_id for r in rows}))
    conflicts = await scope.all(ConflictOfInterest)
    scheduled = datetime.combine(
        session.date, session.start_time, tzinfo=ZoneInfo(session.timezone)
    ).timestamp()
    source = plan_input(session, rounds, scheduled)
    state = DayState(
        session_id=session.id,
        mode=session.mode,
        manual=session.manual_mode,
        rooms=tuple(rooms),
        names=names,
        plan=build_plan(source),
        slots={(r.round_number, r.room_id): r.applicant_id for r in rows},
        exclusions=frozenset((c.applicant_id, c.staff_id) for c in conflicts),
        original_rounds=len(rounds),
    )
    return state, source


@dataclass
class HubPorts:
    """Carries the day's effects out through the live hub (and reads scores for reminders)."""

    hub: LiveHub
    sessions: async_sessionmaker[AsyncSession]
    program_id: str

    def _room(self, state: DayState, room_id: str | None, applicant_id: str) -> tuple[str, str]:
        if room_id is None:
            return waiting_room_key(state.session_id, applicant_id), "Waiting room"
        return room_key(state.session_id, room_id), state.room(room_id).name

    async def route(self, state: DayState, applicant_id: str, room_id: str | None) -> None:
        pid = participant(state.session_id, "applicant", applicant_id)
        key, name = self._room(state, room_id, applicant_id)
        if state.mode == "external":
            url = state.room(room_id).external_url if room_id else None
            await self.hub.deliver(
                "timetrack", {"type": "go_to", "room_name": name, "url": url}, participant_id=pid
            )
            return
        await self.hub.move(pid, key, name)
        await self.hub.deliver(
            "timetrack",
            {"type": "your_room", "room_name": name, "room_id": room_id},
            participant_id=pid,
        )

    async def notify(self, state: DayState, notice: Notify) -> None:
        """One emit to every channel concerned: socket.io sends it once to each socket, however
        many of the channels it is in (an interviewer in their room is in the room's channel
        and their own; a coordinator is in the scope's channel and the console's)."""
        sid = state.session_id
        payload = dict(notice.payload)
        channels = [console_channel(sid)]
        if notice.target == "scope":
            channels.append(scope_channel(sid))
        elif notice.target == "room" and notice.target_id:
            payload["room_name"] = state.room(notice.target_id).name
            channels.append(room_channel(room_key(sid, notice.target_id)))
            # Interviewers hear the knock even if their socket is elsewhere (console, lobby).
            channels += [
                person_channel(participant(sid, "staff", staff_id))
                for staff_id in state.room(notice.target_id).interviewer_ids
            ]
        elif notice.target == "applicant" and notice.target_id:
            channels.append(person_channel(participant(sid, "applicant", notice.target_id)))
        elif notice.target == "staff" and notice.target_id:
            channels.append(person_channel(participant(sid, "staff", notice.target_id)))
        await self.hub.emit("timetrack", payload, room=channels)

    async def prompt(self, state: DayState, prompt: Prompt) -> None:
        payload = {
            "type": "score_prompt",
            "reminder": prompt.reminder,
            "round": prompt.round,
            "applicant_id": prompt.applicant_id,
            "applicant_name": state.names.get(prompt.applicant_id, ""),
            "room_id": prompt.room_id,
            "url": f"/scoring/{state.session_id}/{prompt.applicant_id}",
        }
        await self.hub.deliver(
            "timetrack",
            payload,
            participant_id=participant(state.session_id, "staff", prompt.interviewer_id),
        )
        await self.hub.deliver(
            "timetrack",
            {**payload, "interviewer_id": prompt.interviewer_id},
            channel=console_channel(state.session_id),
        )

    async def submitted(self, state: DayState) -> set[tuple[str, str]]:
        async with self.sessions() as db:
            rows = await db.execute(
                select(Score.applicant_id, Score.interviewer_id).where(
                    Score.session_id == state.session_id, Score.status == "submitted"
                )
            )
        return {(a, i) for a, i in rows.tuples()}

    async def connected(self, state: DayState) -> set[str]:
        return {
            m.grant.person_id
            for m in self.hub.presence.in_scope(state.session_id)
            if m.connected and m.grant.person_kind == "applicant"
        }

    async def changed(self, state: DayState, snapshot: dict[str, Any]) -> None:
        sid = state.session_id
        await self.hub.deliver(
            "timetrack", {"type": "clock", "day": snapshot}, channel=staff_channel(sid)
        )
        for applicant in state.applicants():
            await self.hub.deliver(
                "timetrack",
                {"type": "clock", "day": personal_view(snapshot, applicant)},
                participant_id=participant(sid, "applicant", applicant),
            )


def personal_view(snapshot: dict[str, Any], applicant_id: str) -> dict[str, Any]:
    """An applicant sees the clock and their own itinerary, nobody else's name."""
    return {
        **{k: v for k, v in snapshot.items() if k not in ("slots", "no_shows", "held", "removed")},
        "rooms": [
            {"id": r["id"], "name": r["name"], "external_url": r["external_url"]}
            for r in snapshot["rooms"]
        ],
        "slots": [s for s in snapshot["slots"] if s["applicant_id"] == applicant_id],
    }


@dataclass
class DayRegistry:
    """One runner per session this node owns, built on first use and resumed after a restart
    or a take-over.

    Across nodes the cluster (web/cluster.py) decides which process owns a session; only the
    owner runs its day, under a fencing token claimed from the database, so a node that lost
    the session without knowing can write nothing more (timetrack/store.py `StaleOwner`).
    """

    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]
    """Read-only sessions for building a day: a write session held meanwhile would keep
    SQLite's write turn from the store's own transactions."""
    hub: LiveHub
    clock: Clock
    cluster: Cluster
    runners: dict[str, DayRunner] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    counted: Callable[[int], None] = lambda running: None
    """Told how many days tick here after every change (the `day_runners` gauge)."""

    def _count(self) -> None:
        self.counted(sum(1 for r in self.runners.values() if not r.lost))

    async def get(self, scope: ProgramScope, session: InterviewSession) -> DayRunner:
        runner = self.runners.get(session.id)
        if runner is not None and not runner.lost:
            return runner
        owner = await self.cluster.owner(session.id)
        if not owner.local:
            assert owner.node is not None
            raise ScopeMoved(f"This session's day runs on node {owner.node.node_id}.")
        return await self._build(scope, session)

    async def _build(self, scope: ProgramScope, session: InterviewSession) -> DayRunner:
        async with self.lock:
            runner = self.runners.get(session.id)
            if runner is not None and not runner.lost:
                return runner
            store = DayStore(self.sessions, scope.program_id, session.id)
            fresh, source = await build_day(scope, session)
            if await store.load() is None:
                with contextlib.suppress(IntegrityError):  # another node created it first
                    await store.save(fresh, "ready")
            if self.cluster.shared:
                await store.claim()
            loaded = await store.load()
            assert loaded is not None
            started = time.monotonic()

            def plan_at(start: float, source: PlanInput = source) -> DayPlan:
                return build_plan(PlanInput(**{**vars(source), "start": start}))

            def lost(session_id: str = session.id) -> None:
                self._count()
                self.hub.spawn(self.cluster.forget(session_id))

            runner = DayRunner(
                state=loaded.state,
                fired=loaded.fired,
                store=store,
                ports=HubPorts(self.hub, self.sessions, scope.program_id),
                clock=self.clock,
                plan_at=plan_at,
                on_lost=lost,
            )
            runner.start_ticker()
            self.runners[session.id] = runner
            self._count()
            log.info(
                "day %s runs here (fence %s, resumed in %.0f ms)",
                session.id,
                store.fence,
                (time.monotonic() - started) * 1000,
            )
            return runner

    async def resume(self, session_id: str) -> None:
        """Runs a session's day here if it is running (after a take-over or a restart)."""
        async with self.reads() as db:
            run = await db.get(DayRun, session_id)
            session = await db.get(InterviewSession, session_id)
            if run is None or session is None or run.state != "running":
                return
            await self._build(ProgramScope(db, run.program_id), session)

    async def drop(self, session_id: str) -> None:
        runner = self.runners.pop(session_id, None)
        if runner is not None:
            await runner.stop()
            self._count()

    async def running_days(self) -> list[str]:
        async with self.reads() as db:
            return list(
                await db.scalars(select(DayRun.session_id).where(DayRun.state == "running"))
            )

    async def resume_running(self) -> None:
        for session_id in await self.running_days():
            if session_id in self.runners:
                continue
            try:
                owner = await self.cluster.owner(session_id)
            except NotTaken:
                continue
            if owner.local:
                with contextlib.suppress(Conflict):
                    await self.resume(session_id)

    async def close(self) -> None:
        for runner in self.runners.values():
            await runner.stop()
        self.runners.clear()

    def placement(self, session_id: str, applicant_id: str) -> tuple[bool, str | None]:
        """Where a joining applicant belongs now: (day is running, room id or None). The
        runner answers: it is the one reader of the day's time."""
        runner = self.runners.get(session_id)
        if runner is None:
            return False, None
        return runner.placement(applicant_id)

    def seen(self, member: Member) -> None:
        """The hub's presence listener: an applicant who connects attends the interview under
        way (an absent one's interview is a no-show, not completed)."""
        if not member.connected or member.grant.person_kind != "applicant":
            return
        runner = self.runners.get(member.grant.scope)
        if runner is not None and not runner.lost and runner.attending(member.grant.person_id):
            self.hub.spawn(runner.arrived(member.grant.person_id))


DAYS = web.AppKey("days", DayRegistry)
MAINTAIN_SECONDS = 1.0
"""How often a node looks for running days nobody runs (an owner that died)."""


def install(app: web.Application) -> None:
    app.cleanup_ctx.append(_registry)


async def _registry(app: web.Application) -> AsyncIterator[None]:
    cluster = app[CLUSTER]
    hub = app[HUB]
    registry = DayRegistry(app[DB], app[DB_READ], hub, app[CLOCK], cluster)
    registry.counted = app[METRICS].day_runners.set
    app[DAYS] = registry
    app[PLACEMENT] = registry.placement
    hub.listeners.append(registry.seen)

    async def taken(scope: str) -> None:
        if not scope.startswith("meeting:"):
            await registry.resume(scope)

    async def lost(scope: str) -> None:
        await registry.drop(scope)
        # Whoever is connected here reconnects and lands on the new owner.
        await hub.disconnect_scope(scope)

    cluster.on_taken = taken
    cluster.on_lost = lost
    await registry.resume_running()

    # Only several nodes have an owner that can die and days to take over; on one node a
    # second process on the same database (tests do this) must not start a rival runner.
    maintenance = Periodic(
        registry.resume_running, MAINTAIN_SECONDS, name="day registry maintenance", log=log
    )
    if cluster.shared:
        maintenance.start()
    yield
    await maintenance.stop()
    hub.listeners.remove(registry.seen)
    await registry.close()


# --- REST -------------------------------------------------------------------------------------


class CommandIn(BaseModel):
    kind: str = Field(min_length=1, max_length=40)
    args: dict[str, Any] = Field(default_factory=dict)
    command_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=64)


class CommandOut(BaseModel):
    ok: bool
    kind: str | None = None
    repeated: bool = False
    error: dict[str, str] | None = None
    day: dict[str, Any]


class DayOut(BaseModel):
    day: dict[str, Any]
    presence: list[dict[str, Any]]
    scores: list[dict[str, str]]
    names: dict[str, str]


async def _runner(call: Call) -> tuple[DayRunner, InterviewSession]:
    session = await call.scope.get(InterviewSession, call.path("session_id"), what="session")
    runner = await call.request.app[DAYS].get(call.scope, session)
    return runner, session


@api.route(
    "GET",
    "/sessions/{session_id}/day",
    summary="The day's clock, itinerary and presence",
    tags=("timetrack",),
    permission="timetrack.room",
    response=DayOut,
)
@owned_by("session_id")
async def get_day(call: Call) -> DayOut:
    runner, session = await _runner(call)
    hub = call.request.app[HUB]
    console = allowed(call.staff, "timetrack.console")
    presence = hub.roster(session.id) if console else []
    rows = await call.scope.all(Score, Score.session_id == session.id)
    scores = [
        {"applicant_id": s.applicant_id, "interviewer_id": s.interviewer_id, "status": s.status}
        for s in rows
        if console or s.interviewer_id == call.staff.id
    ]
    staff = await call.scope.all(Staff)
    return DayOut(
        day=runner.snapshot(), presence=presence, scores=scores, names={s.id: s.name for s in staff}
    )


@api.route(
    "POST",
    "/sessions/{session_id}/day/commands",
    summary="A coordinator command",
    tags=("timetrack",),
    permission="timetrack.room",
    body=CommandIn,
    response=CommandOut,
    # The runner stores the command in its own transaction.
    transaction="read",
)
@owned_by("session_id")
async def day_command(call: Call) -> CommandOut:
    body: CommandIn = call.body
    actor = call.staff
    runner, _ = await _runner(call)
    if not allowed(actor, "timetrack.console"):
        # Interviewers may only set the status of their own room (manual mode).
        room_id = body.args.get("room_id")
        mine = {r.id for r in runner.state.rooms if actor.id in r.interviewer_ids}
        if body.kind != "set_status" or room_id not in mine:
            raise Forbidden("Only coordinators can run the day.")
    result = await runner.command(
        f"{actor.id}:{body.command_id}",
        Command(body.kind, body.args, actor_id=actor.id, actor_name=actor.name),
    )
    return CommandOut(**result, day=runner.snapshot())


class MyDayOut(BaseModel):
    day: dict[str, Any] | None
    role: str
    room_id: str | None = None


@api.route(
    "GET",
    "/sessions/{session_id}/my-day",
    summary="The day as the caller sees it (an applicant: only their own itinerary)",
    tags=("timetrack",),
    auth="any",
    response=MyDayOut,
)
@owned_by("session_id")
async def my_day(call: Call) -> MyDayOut:
    actor = call.actor
    assert actor is not None
    session = await call.scope.get(InterviewSession, call.path("session_id"), what="session")
    registry = call.request.app[DAYS]
    try:
        runner = await registry.get(call.scope, session)
    except Conflict:
        return MyDayOut(day=None, role=actor.kind)
    snapshot = runner.snapshot()
    if actor.kind == "applicant":
        if actor.id not in runner.state.applicants():
            raise Forbidden("You are not on this session's itinerary.", code="not_booked")
        return MyDayOut(day=personal_view(snapshot, actor.id), role="applicant")
    mine = next((r.id for r in runner.state.rooms if actor.id in r.interviewer_ids), None)
    return MyDayOut(day=snapshot, role="interviewer" if mine else "staff", room_id=mine)
