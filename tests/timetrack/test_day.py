"""A whole interview day on the FakeClock: 4 rooms × 4 rounds, with a pause, an extension, a
late arrival, a no-show, a hold in overtime and a restart in the middle. No sleeping."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from core.clock import FakeClock
from core.db import create_engine, create_session_factory
from rooms import solver
from tests.factories import World
from timetrack.commands import Command
from timetrack.effects import Notify, Prompt
from timetrack.plan import PlanInput, build_plan
from timetrack.runner import DayRunner
from timetrack.state import DayState, RoomInfo
from timetrack.store import DayStore

MIN = 60.0
ROOMS = ("r1", "r2", "r3", "r4")
APPLICANTS = ("a1", "a2", "a3", "a4")


@dataclass
class RecordingPorts:
    """Stands in for the live hub: records what the day asks of it, in order."""

    clock: FakeClock
    routes: list[tuple[float, str, str | None]] = field(default_factory=list)
    notices: list[tuple[float, str, str | None, dict[str, Any]]] = field(default_factory=list)
    prompts: list[tuple[float, Prompt]] = field(default_factory=list)
    submitted_scores: set[tuple[str, str]] = field(default_factory=set)
    snapshots: int = 0
    present: set[str] | None = None
    """The applicants connected now (None: everyone on the itinerary)."""

    async def route(self, state: DayState, applicant_id: str, room_id: str | None) -> None:
        self.routes.append((self.clock.now(), applicant_id, room_id))

    async def notify(self, state: DayState, notice: Notify) -> None:
        self.notices.append((self.clock.now(), notice.target, notice.target_id, notice.payload))

    async def prompt(self, state: DayState, prompt: Prompt) -> None:
        self.prompts.append((self.clock.now(), prompt))

    async def submitted(self, state: DayState) -> set[tuple[str, str]]:
        return set(self.submitted_scores)

    async def changed(self, state: DayState, snapshot: dict[str, Any]) -> None:
        self.snapshots += 1

    async def connected(self, state: DayState) -> set[str]:
        return set(state.applicants()) if self.present is None else set(self.present)

    def rooms_of(self, applicant: str) -> list[str | None]:
        return [room for _, who, room in self.routes if who == applicant]

    def notices_of(self, kind: str) -> list[tuple[float, str, str | None, dict[str, Any]]]:
        return [n for n in self.notices if n[3]["type"] == kind]


def initial_state(session_id: str, start: float) -> DayState:
    problem = solver.Problem(
        rooms=tuple(solver.RoomSpec(r, (f"i{r[1]}",)) for r in ROOMS),
        rounds=4,
        applicants=APPLICANTS,
    )
    itinerary = solver.solve(problem).itinerary
    assert itinerary is not None
    return DayState(
        session_id=session_id,
        mode="native",
        manual=False,
        rooms=tuple(RoomInfo(r, f"Room {r[1]}", (f"i{r[1]}",)) for r in ROOMS),
        names={a: f"Applicant {a[1]}" for a in APPLICANTS},
        plan=plan_at(start),
        slots={(s.round, s.room_id): s.applicant_id for s in itinerary.slots},
        original_rounds=4,
    )


def plan_at(start: float) -> Any:
    return build_plan(
        PlanInput(
            start=start,
            rounds=4,
            interview_seconds=20 * MIN,
            review_seconds=5 * MIN,
            breaks={2: 10 * MIN},
        )
    )


@pytest.fixture
async def factory(sqlite_url: str) -> Any:
    engine = create_engine(sqlite_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def make_runner(
    factory: Any,
    world: World,
    clock: FakeClock,
    ports: RecordingPorts,
    state: DayState | None = None,
) -> DayRunner:
    store = DayStore(factory, world.a.program_id, world.a.session_id)
    loaded = await store.load()
    if loaded is not None:
        state, fired = loaded.state, loaded.fired
    else:
        assert state is not None
        fired = frozenset()
    runner = DayRunner(
        state=state, fired=fired, store=store, ports=ports, clock=clock, plan_at=plan_at
    )
    runner.start_ticker()
    await asyncio.sleep(0)
    return runner


async def advance(runner: DayRunner, clock: FakeClock, minutes: float) -> None:
    """Moves the clock event by event, letting the ticker finish each one, as real time does."""
    from timetrack.plan import next_event_after

    target = clock.now() + minutes * MIN
    while True:
        await runner.settled()
        upcoming = next_event_after(runner.state.plan, clock.now())
        if upcoming is None or upcoming.at > target or runner.state.plan.paused:
            break
        await clock.advance(max(0.0, upcoming.at - clock.now()))
    await clock.advance(max(0.0, target - clock.now()))
    await runner.settled()


async def test_a_whole_day(factory: Any, world: World, clock: FakeClock) -> None:
    ports = RecordingPorts(clock)
    t0 = clock.now()
    runner = await make_runner(
        factory, world, clock, ports, initial_state(world.a.session_id, t0 + 30 * MIN)
    )
    expected = {a: [runner.state.applicant_room(r, a) for r in range(1, 5)] for a in APPLICANTS}

    refused = await runner.command("c0", Command("pause"))
    assert refused["error"]["code"] == "not_started"
    assert (await runner.command("c1", Command("start")))["ok"]
    # Round 1 begins at once: everybody goes to their first room.
    assert {who: room for _, who, room in ports.routes} == {a: expected[a][0] for a in APPLICANTS}

    # a4 does not come: a no-show, never routed again, its interviews marked.
    await runner.command("c2", Command("no_show", {"applicant_id": "a4"}))
    # 18 minutes in: the knock, 2 minutes before the end, in every occupied room.
    await advance(runner, clock, 18)
    knocks = ports.notices_of("knock")
    assert {n[2] for n in knocks} == {expected[a][0] for a in ("a1", "a2", "a3")}
    assert all(n[3]["seconds_left"] == 120 for n in knocks)
    # The end of the interview: time up, completed, and a prompt to each interviewer.
    await advance(runner, clock, 2)
    assert len(ports.notices_of("time_up")) == 3
    assert {p.applicant_id for _, p in ports.prompts} == {"a1", "a2", "a3"}
    assert all(not p.reminder for _, p in ports.prompts)
    first_room = expected["a1"][0]
    assert first_room is not None
    assert runner.state.status(1, first_room) == "completed"
    # a1's interviewer submits; the others do not: reminders at the end of the review.
    ports.submitted_scores.add(("a1", "i" + first_room[1]))
    await advance(runner, clock, 4.9)
    moving = ports.notices_of("moving")
    assert {n[2] for n in moving} == {"a1", "a2", "a3"}
    assert moving[0][3]["in_seconds"] == 10
    await advance(runner, clock, 0.1)
    reminders = [p for _, p in ports.prompts if p.reminder]
    assert {p.applicant_id for p in reminders} == {"a2", "a3"}
    assert [room for room in ports.rooms_of("a1")][-1] == expected["a1"][1]

    # Round 2: the coordinator pauses for 3 minutes; nothing happens meanwhile.
    await advance(runner, clock, 5)
    await runner.command("c3", Command("pause", actor_name="Cole"))
    before = len(ports.notices)
    await advance(runner, clock, 3)
    assert len(ports.notices) == before
    await runner.command("c4", Command("resume"))
    # Two coordinators extend at once with the same command id: applied once.
    results = await asyncio.gather(
        runner.command("c5", Command("extend", {"minutes": 5})),
        runner.command("c5", Command("extend", {"minutes": 5})),
    )
    assert sum(1 for r in results if r.get("repeated")) == 1
    # Round 2 began at +25 min; paused 3 and extended 5: its end moves from +45 to +53 min.
    round2 = next(p for p in runner.state.plan.phases if p.kind == "interview" and p.round == 2)
    assert round2.end == t0 + (25 + 20 + 3 + 5) * MIN

    # a3 is held in their room into overtime; the clock moves the others on without them.
    await advance(runner, clock, 15)  # now +48 in round 2 (ends at +53)
    await runner.command("c6", Command("hold", {"applicant_id": "a3"}))
    held_room = expected["a3"][1]
    routes_before = len(ports.routes)

    # --- a restart in the middle of round 2 ---
    await runner.stop()
    runner = await make_runner(factory, world, clock, ports)
    assert runner.state.held == {"a3": held_room}
    assert len(ports.routes) == routes_before  # nothing re-fired on restart
    prompts_before = len(ports.prompts)

    await advance(runner, clock, 5)  # round 2's interview ends at the shifted time
    round2_prompts = [p for _, p in ports.prompts[prompts_before:]]
    assert {p.applicant_id for p in round2_prompts} == {"a1", "a2", "a3"}
    await advance(runner, clock, 5)  # review ends; the break (10 min) begins
    assert ports.notices_of("break")
    assert ports.rooms_of("a1")[-1] is None  # waiting room during the break
    assert ports.rooms_of("a3")[-1] == held_room  # held: never moved by the clock
    await runner.command("c7", Command("release", {"applicant_id": "a3"}))
    assert ports.rooms_of("a3")[-1] is None

    # a4 arrives late at round 3: starts there; rounds 1 and 2 go to appended rounds.
    await advance(runner, clock, 10)  # round 3 starts
    await runner.command("c8", Command("late_arrival", {"applicant_id": "a4"}))
    assert runner.state.plan.rounds == 6
    assert ports.rooms_of("a4")[-1] == expected["a4"][2]
    assert runner.state.applicant_room(5, "a4") == expected["a4"][0]
    assert runner.state.applicant_room(6, "a4") == expected["a4"][1]

    # The rest of the day runs by itself.
    await advance(runner, clock, 4 * 25 + 1)
    assert runner.state.ended
    assert ports.notices_of("day_end")
    # Last room, then the last review in the waiting room, then the end of the day.
    assert ports.rooms_of("a4")[-3:] == [expected["a4"][1], None, None]
    # Every event fired exactly once, restart included: one move per round, one day_end.
    fired = [event.kind for event, _ in runner.log]
    assert fired.count("day_end") == 1
    # Every applicant visited all four rooms.
    for applicant in APPLICANTS:
        visited = {room for room in ports.rooms_of(applicant) if room}
        assert visited == set(ROOMS), applicant
    await runner.stop()
    for applicant in ("a1", "a2", "a3"):
        assert [runner.state.applicant_room(r, applicant) for r in range(1, 5)] == expected[
            applicant
        ]


async def test_conflicting_commands_apply_one_at_a_time(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock)
    runner = await make_runner(
        factory, world, clock, ports, initial_state(world.a.session_id, clock.now())
    )
    await runner.command("s", Command("start"))
    await advance(runner, clock, 5)
    # Coordinator A pauses while coordinator B ends the day: one wins, the other is told why.
    pause, end = await asyncio.gather(
        runner.command("a-1", Command("pause")),
        runner.command("b-1", Command("end")),
    )
    assert pause["ok"] and end["ok"]  # applied in order: pause, then end (which resumes first)
    await runner.settled()
    assert runner.state.ended and not runner.state.plan.paused
    late = await runner.command("a-2", Command("extend", {"minutes": 5}))
    assert late == {"ok": False, "error": {"code": "day_over", "message": "The day is over."}}
    # Both coordinators' screens got the same final snapshot through the hub.
    assert ports.snapshots >= 2
    await runner.stop()


async def test_swap_and_bad_commands(factory: Any, world: World, clock: FakeClock) -> None:
    ports = RecordingPorts(clock)
    runner = await make_runner(
        factory, world, clock, ports, initial_state(world.a.session_id, clock.now())
    )
    await runner.command("s", Command("start"))
    a, b = runner.state.in_room(3, "r1"), runner.state.in_room(3, "r2")
    assert a and b
    swapped = await runner.command(
        "x", Command("swap", {"round": 3, "applicant_id": a, "other_applicant_id": b})
    )
    assert swapped["ok"], swapped
    assert runner.state.in_room(3, "r1") == b and runner.state.in_room(3, "r2") == a
    for kind, args, code in [
        ("extend", {"minutes": 0}, "invalid"),
        ("hold", {"applicant_id": "nobody"}, "unknown_applicant"),
        ("broadcast", {"message": ""}, "invalid"),
        ("swap", {"round": 1, "applicant_id": a, "other_applicant_id": a}, "invalid"),
        ("teleport", {}, "unknown_command"),
    ]:
        assert isinstance(args, dict)
        result = await runner.command(f"bad-{kind}", Command(kind, args))
        assert result["ok"] is False and result["error"]["code"] in (code, "past_round"), kind
    message = await runner.command(
        "m", Command("broadcast", {"message": "Lunch at noon", "target": "all"})
    )
    assert message["ok"]
    assert ports.notices_of("broadcast")[-1][3]["message"] == "Lunch at noon"
    await runner.stop()


async def test_manual_mode_interviewers_let_applicants_in(
    factory: Any, world: World, clock: FakeClock
) -> None:
    from dataclasses import replace

    ports = RecordingPorts(clock)
    state = replace(initial_state(world.a.session_id, clock.now()), manual=True)
    runner = await make_runner(factory, world, clock, ports, state)
    await runner.command("s", Command("start"))
    applicant = runner.state.in_room(1, "r1")
    assert applicant is not None
    assert ports.rooms_of(applicant) == [None]  # waiting until the interviewer is ready
    ready = Command("set_status", {"round": 1, "room_id": "r1", "status": "ready"})
    assert (await runner.command("ready", ready))["ok"]
    assert ports.rooms_of(applicant)[-1] == "r1"
    await runner.command(
        "go", Command("set_status", {"round": 1, "room_id": "r1", "status": "in_progress"})
    )
    assert runner.state.status(1, "r1") == "in_progress"
    await advance(runner, clock, 20)  # the clock does not complete a manual interview
    assert runner.state.status(1, "r1") == "in_progress"
    done = Command("set_status", {"round": 1, "room_id": "r1", "status": "completed"})
    await runner.command("done", done)
    assert ports.rooms_of(applicant)[-1] is None
    assert any(p.applicant_id == applicant and not p.reminder for _, p in ports.prompts)
    await runner.stop()
