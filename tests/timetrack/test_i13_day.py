"""Issue 13 on the FakeClock: absent applicants are no-shows (not interviewed), the review break
in the waiting room, one snapshot per command, a skip's reminder put off, and the runner as the
one reader of where an applicant belongs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.clock import FakeClock
from core.db import create_engine, create_session_factory
from tests.factories import World
from tests.timetrack.test_day import MIN, RecordingPorts, advance, initial_state, make_runner
from timetrack.commands import Command
from timetrack.runner import DayRunner


@pytest.fixture
async def factory(sqlite_url: str) -> Any:
    engine = create_engine(sqlite_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def started(
    factory: Any, world: World, clock: FakeClock, ports: RecordingPorts, **changes: Any
) -> DayRunner:
    state = replace(initial_state(world.a.session_id, clock.now()), **changes)
    runner = await make_runner(factory, world, clock, ports, state)
    assert (await runner.command("start", Command("start")))["ok"]
    await runner.settled()
    return runner


def prompted(ports: RecordingPorts, *, reminder: bool) -> list[str]:
    return [p.applicant_id for _, p in ports.prompts if p.reminder is reminder]


async def test_an_applicant_never_connected_is_a_no_show(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock, present={"a1", "a2", "a3"})
    runner = await started(factory, world, clock, ports)
    room_of_a4 = runner.state.applicant_room(1, "a4")
    assert room_of_a4 is not None
    # a1 leaves a minute in: they were there, their interview happened.
    await advance(runner, clock, 1)
    ports.present = {"a2", "a3"}
    await advance(runner, clock, 19)  # the interview ends
    assert runner.state.status(1, room_of_a4) == "no_show"
    assert runner.state.status(1, runner.state.applicant_room(1, "a1") or "") == "completed"
    assert sorted(prompted(ports, reminder=False)) == ["a1", "a2", "a3"]
    time_up = [n[3]["applicant_id"] for n in ports.notices_of("time_up")]
    assert "a4" in time_up  # the interviewer still hears that the slot is over
    await advance(runner, clock, 5)  # the review ends: no reminder for someone never seen
    assert "a4" not in prompted(ports, reminder=True)

    # a4 connects during round 2: that interview happens.
    await runner.arrived("a4")
    await advance(runner, clock, 20)
    assert runner.state.status(2, runner.state.applicant_room(2, "a4") or "") == "completed"
    assert prompted(ports, reminder=False).count("a4") == 1
    await runner.stop()


async def test_external_days_have_no_presence(factory: Any, world: World, clock: FakeClock) -> None:
    ports = RecordingPorts(clock, present=set())
    runner = await started(factory, world, clock, ports, mode="external")
    await advance(runner, clock, 20)
    assert all(runner.state.status(1, room) == "completed" for room in ("r1", "r2", "r3", "r4"))
    assert sorted(prompted(ports, reminder=False)) == ["a1", "a2", "a3", "a4"]
    await runner.stop()


async def test_the_coordinators_no_show_marks_the_interviews(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock)
    runner = await started(factory, world, clock, ports)
    await runner.command("ns", Command("no_show", {"applicant_id": "a4"}))
    rooms = [runner.state.applicant_room(r, "a4") for r in range(1, 5)]
    assert [runner.state.statuses.get((r, room or "")) for r, room in enumerate(rooms, 1)] == [
        "no_show"
    ] * 4
    await advance(runner, clock, 25)
    assert "a4" not in prompted(ports, reminder=False) + prompted(ports, reminder=True)
    await runner.command("late", Command("late_arrival", {"applicant_id": "a4"}))
    assert runner.state.status(2, runner.state.applicant_room(2, "a4") or "") == "pending"
    await runner.stop()


async def test_the_review_break_is_spent_in_the_waiting_room(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock)
    t0 = clock.now()
    runner = await started(factory, world, clock, ports)
    assert runner.placement("a1") == (True, runner.state.applicant_room(1, "a1"))
    await advance(runner, clock, 20)  # round 1's interview ends: everybody waits outside
    assert {who: room for _, who, room in ports.routes[-4:]} == {
        a: None for a in ["a1", "a2", "a3", "a4"]
    }
    assert runner.placement("a1") == (True, None)
    reviews = {n[2]: n[3] for n in ports.notices_of("review")}
    assert set(reviews) == {"a1", "a2", "a3", "a4"}
    following = reviews["a1"]["next"]
    assert following["room_id"] == runner.state.applicant_room(2, "a1")
    assert following["room_name"] == f"Room {following['room_id'][1]}"
    assert following["at"] == t0 + 25 * MIN and reviews["a1"]["until"] == t0 + 25 * MIN
    await advance(runner, clock, 4 + 50 / 60)
    moving = {n[2]: n[3] for n in ports.notices_of("moving")}
    assert moving["a1"]["at"] == t0 + 25 * MIN and moving["a1"]["in_seconds"] == 10
    await advance(runner, clock, 10 / 60)  # round 2: into the next room
    assert ports.rooms_of("a1")[-1] == runner.state.applicant_room(2, "a1")

    # Round 2 is followed by a break: the review says the next room comes after it.
    await advance(runner, clock, 20)
    following = {n[2]: n[3] for n in ports.notices_of("review")}["a1"]["next"]
    assert following["round"] == 3 and following["at"] == t0 + (50 + 10) * MIN

    # Held into overtime: the held applicant stays in the room through the review.
    await advance(runner, clock, 15 + 18)  # round 3, two minutes before its end
    await runner.command("hold", Command("hold", {"applicant_id": "a2"}))
    held_room = runner.state.applicant_room(3, "a2")
    await advance(runner, clock, 2)
    assert ports.rooms_of("a2")[-1] == held_room
    await runner.command("release", Command("release", {"applicant_id": "a2"}))
    assert ports.rooms_of("a2")[-1] is None

    # The last round's review: waiting room, nothing next.
    await advance(runner, clock, 5 + 20)
    last = [n[3] for n in ports.notices_of("review") if n[2] == "a1"][-1]
    assert last["round"] == 4 and last["next"] is None
    assert ports.rooms_of("a1")[-1] is None
    await runner.stop()


async def test_external_review_shows_the_next_link_and_moves_nobody(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock)
    state = initial_state(world.a.session_id, clock.now())
    rooms = tuple(replace(r, external_url=f"https://meet.test/{r.id}") for r in state.rooms)
    runner = await started(factory, world, clock, ports, mode="external", rooms=rooms)
    routes = len(ports.routes)
    await advance(runner, clock, 20)
    assert len(ports.routes) == routes
    review = {n[2]: n[3] for n in ports.notices_of("review")}["a1"]
    assert (
        review["next"]["external_url"]
        == f"https://meet.test/{runner.state.applicant_room(2, 'a1')}"
    )
    assert runner.placement("a1") == (True, runner.state.applicant_room(1, "a1"))
    await runner.stop()


async def test_a_command_sends_one_snapshot(factory: Any, world: World, clock: FakeClock) -> None:
    ports = RecordingPorts(clock)
    runner = await make_runner(
        factory, world, clock, ports, initial_state(world.a.session_id, clock.now())
    )
    await runner.command("start", Command("start"))  # fires round 1's move as it starts
    assert ports.snapshots == 1
    await advance(runner, clock, 5)
    await runner.command("skip", Command("skip"))  # fires round 1's end and review end
    assert ports.snapshots == 2
    await runner.stop()


async def test_a_skip_prompts_now_and_reminds_later(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock)
    runner = await started(factory, world, clock, ports)
    await advance(runner, clock, 5)
    await runner.command("skip", Command("skip"))
    await runner.settled()
    assert sorted(prompted(ports, reminder=False)) == ["a1", "a2", "a3", "a4"]
    assert prompted(ports, reminder=True) == []
    ports.submitted_scores.add(("a1", "i" + (runner.state.applicant_room(1, "a1") or "")[1]))
    await advance(runner, clock, 4.9)
    assert prompted(ports, reminder=True) == []
    await advance(runner, clock, 0.1)  # a review's length after the prompt
    assert sorted(prompted(ports, reminder=True)) == ["a2", "a3", "a4"]
    await advance(runner, clock, 30)
    assert len(prompted(ports, reminder=True)) == 3 + 4  # round 2's own, nothing twice
    await runner.stop()


async def test_put_off_reminders_survive_a_restart(
    factory: Any, world: World, clock: FakeClock
) -> None:
    ports = RecordingPorts(clock)
    runner = await started(factory, world, clock, ports)
    await advance(runner, clock, 5)
    await runner.command("skip", Command("skip"))
    await runner.stop()
    runner = await make_runner(factory, world, clock, ports)
    assert runner.state.reminders
    await advance(runner, clock, 5)
    assert sorted(prompted(ports, reminder=True)) == ["a1", "a2", "a3", "a4"]
    await runner.stop()
