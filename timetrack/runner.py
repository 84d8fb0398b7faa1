"""The one ticker of one session's day, and the one door its commands come through.

Exactly one place reads the time for the schedule: this ticker, through the injected `Clock`.
Ticks and commands take the same lock, so two coordinators acting at once are applied one after
the other; command ids make a repeated command harmless; fired event keys make a restarted
ticker resume the round where it stands, firing what it missed once and nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from core.clock import Clock
from timetrack import plan as plans
from timetrack.commands import Command, CommandRejected, apply, room_now
from timetrack.effects import (
    Effect,
    Notify,
    Prompt,
    Route,
    SetStatus,
    effects_for,
    reminders_for,
    tracks_presence,
)
from timetrack.plan import ClockEvent, DayPlan
from timetrack.state import DayState
from timetrack.store import DayStore, StaleOwner, event_key

log = logging.getLogger("interviewday.timetrack")

# Catching up after a restart, a banner for a phase long over is noise; moves, statuses and
# prompts still happen.
STALE_NOTICES = frozenset({"knock", "time_up", "moving", "round_start", "break", "review"})
DEFERRED_REMINDER_SECONDS = 300.0
"""When a skip ends a round with no review left, its reminders come this long after the prompt
(or the planned review's length, if the day has one)."""


class DayPorts(Protocol):
    async def route(self, state: DayState, applicant_id: str, room_id: str | None) -> None: ...

    async def notify(self, state: DayState, notice: Notify) -> None: ...

    async def prompt(self, state: DayState, prompt: Prompt) -> None: ...

    async def submitted(self, state: DayState) -> set[tuple[str, str]]:
        """(applicant, interviewer) pairs whose score is submitted, for the whole session."""
        ...

    async def changed(self, state: DayState, snapshot: dict[str, Any]) -> None: ...

    async def connected(self, state: DayState) -> set[str]:
        """The applicants of this day connected right now (native days)."""
        ...


class DayRunner:
    def __init__(
        self,
        *,
        state: DayState,
        fired: frozenset[str],
        store: DayStore,
        ports: DayPorts,
        clock: Clock,
        plan_at: Callable[[float], DayPlan],
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.state = state
        self.fired = set(fired)
        self.store = store
        self.ports = ports
        self.clock = clock
        self.plan_at = plan_at
        self.on_lost = on_lost
        """Called once when the store refuses a write because another node took the day over."""
        self.lost = False
        self.lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self.log: list[tuple[ClockEvent, list[Effect]]] = []

    # --- lifecycle -----------------------------------------------------------------------

    def start_ticker(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"day:{self.state.session_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _lose(self) -> None:
        if self.lost:
            return
        self.lost = True
        log.warning("day %s: another node took it over; this runner stops", self.state.session_id)
        if self.on_lost is not None:
            self.on_lost()

    # --- commands ------------------------------------------------------------------------

    async def command(self, command_id: str, command: Command) -> dict[str, Any]:
        """Applies one command once; repeating a command id returns the first result. Raises
        StaleOwner when another node has taken the day over (nothing was applied here)."""
        try:
            return await self._command(command_id, command)
        except StaleOwner:
            self._lose()
            raise

    async def _command(self, command_id: str, command: Command) -> dict[str, Any]:
        async with self.lock:
            earlier = await self.store.command_result(command_id)
            if earlier is not None:
                return {**earlier, "repeated": True}
            now = self.clock.now()
            try:
                effects = await self._apply(command, now)
                result: dict[str, Any] = {"ok": True, "kind": command.kind}
            except CommandRejected as exc:
                result = {"ok": False, "error": {"code": exc.code, "message": exc.message}}
                effects = None
            result = await self.store.record_command(
                command_id, command.kind, command.args, command.actor_id, now, result
            )
            if effects is not None:
                await self._save()
                await self._carry_out(effects, stale=False)
                # One snapshot per command, whether or not it made clock events due.
                await self._tick_locked(now, announce=False)
                await self.ports.changed(self.state, self.snapshot(now))
        self._wake.set()
        return result

    async def _apply(self, command: Command, now: float) -> list[Effect] | None:
        if command.kind == "start":
            if self.state.started:
                raise CommandRejected("already_started", "The day has already started.")
            self.state = replace(self.state, started=True, plan=self.plan_at(now))
            return []
        if not self.state.started:
            raise CommandRejected("not_started", "Start the day first.")
        self.state, effects = apply(self.state, command, now)
        return effects

    # --- the ticker ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                async with self.lock:
                    now = self.clock.now()
                    await self._tick_locked(now)
                    upcoming = self._next_deadline(now)
            except StaleOwner:
                self._lose()
                return
            except Exception:
                # The day must go on: log, and try again at the next wake-up.
                log.exception("ticker of %s failed", self.state.session_id)
                upcoming = None
                self.failures += 1
            self._wake.clear()
            await self._sleep(upcoming)

    def _next_deadline(self, now: float) -> float | None:
        if not self.state.started:
            return None
        # Reminders a skip put off still come after the day's end.
        deadlines = list(self.state.reminders.values())
        if not self.state.ended and not self.state.plan.paused:
            upcoming = plans.next_event_after(self.state.plan, now)
            if upcoming is not None:
                deadlines.append(upcoming.at)
        return min(deadlines, default=None)

    async def _sleep(self, deadline: float | None) -> None:
        self._idle.set()
        waiter = asyncio.ensure_future(self._wake.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if deadline is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep_until(deadline)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._idle.clear()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def settled(self) -> None:
        """Returns once the ticker waits with nothing due (for tests driving a FakeClock)."""
        while True:
            if self._task is None or self._task.done():
                raise RuntimeError("the ticker is not running")
            if self.failures:
                raise RuntimeError(f"the ticker failed {self.failures} time(s); see the log")
            await self._idle.wait()
            now = self.clock.now()
            pending = [
                e
                for e in plans.events_between(self.state.plan, float("-inf"), now)
                if event_key(e) not in self.fired
            ]
            if self.state.ended:
                pending = []
            reminders = [r for r, at in self.state.reminders.items() if at <= now]
            if (not pending and not reminders) or not self.state.started:
                return
            await asyncio.sleep(0.001)

    async def tick(self) -> None:
        """Fire whatever is due now (the ticker does this by itself; tests may call it)."""
        async with self.lock:
            await self._tick_locked(self.clock.now())

    async def _tick_locked(self, now: float, *, announce: bool = True) -> None:
        """Fires what is due; `announce`: send the new snapshot if anything fired (a command
        sends its own, once)."""
        if not self.state.started:
            return
        if self.state.ended:
            await self._remind(now)
            return
        due = [
            event
            for event in plans.events_between(self.state.plan, float("-inf"), now)
            if event_key(event) not in self.fired
        ]
        if not due:
            await self._remind(now)
            return
        await self._attend(due)
        keys = {event_key(event) for event in due}
        fresh = await self.store.fire_many(
            [
                (
                    event,
                    {
                        "prompts": [
                            vars(p) for p in self._effects(event, keys) if isinstance(p, Prompt)
                        ]
                    },
                )
                for event in due
            ],
            now,
        )
        batch: list[tuple[Effect, bool]] = []
        for index, event in enumerate(due):
            self.fired.add(event_key(event))
            if event_key(event) not in fresh:
                continue
            later_moves = any(e.kind in ("move", "day_end") for e in due[index + 1 :])
            effects = self._effects(event, keys)
            if self._deferred(event, keys):
                assert event.round is not None
                later = self.state.plan.timing.review_seconds or DEFERRED_REMINDER_SECONDS
                reminders = {**self.state.reminders, event.round: now + later}
                self.state = replace(self.state, reminders=reminders)
            if event.kind == "day_end":
                self.state = replace(self.state, ended=True)
            self.log.append((event, effects))
            batch += [(effect, later_moves) for effect in effects]
        # What people see at a boundary (announcements, moves) goes out first; statuses and
        # scoring prompts, which nobody waits for to the millisecond, right after.
        urgent = [(e, s) for e, s in batch if isinstance(e, Notify | Route)]
        await self._carry_out([e for e, s in urgent if s], stale=True)
        await self._carry_out([e for e, s in urgent if not s], stale=False)
        await self._carry_out(
            [e for e, _ in batch if not isinstance(e, Notify | Route)], stale=False
        )
        await self._remind(now)
        await self._save()
        if announce:
            await self.ports.changed(self.state, self.snapshot(now))

    @staticmethod
    def _deferred(event: ClockEvent, keys: set[str]) -> bool:
        """A round's reminder due with its own prompt (a skip left no review): it waits."""
        return event.kind == "review_end" and f"interview_end:{event.round}" in keys

    def _effects(self, event: ClockEvent, keys: set[str]) -> list[Effect]:
        effects = effects_for(self.state, event)
        if self._deferred(event, keys):
            return [e for e in effects if not (isinstance(e, Prompt) and e.reminder)]
        return effects

    async def _attend(self, due: list[ClockEvent]) -> None:
        """Whoever is connected as an interview starts or ends attended it (see `arrived` for
        those who come in between)."""
        rounds = {
            e.round for e in due if e.kind in ("move", "interview_end") and e.round is not None
        }
        if not rounds or not tracks_presence(self.state):
            return
        present = await self.ports.connected(self.state)
        seen = {(r, who) for r in rounds for who in present}
        self.state = replace(self.state, attended=self.state.attended | seen)

    async def _remind(self, now: float) -> None:
        """Sends the reminders a skip put off, once they are due."""
        due = sorted(r for r, at in self.state.reminders.items() if at <= now)
        if not due:
            return
        effects = [effect for r in due for effect in reminders_for(self.state, r)]
        self.state = replace(
            self.state,
            reminders={r: at for r, at in self.state.reminders.items() if r not in due},
        )
        await self._save()
        await self._carry_out(effects, stale=False)

    # --- presence and placement ------------------------------------------------------------

    def attending(self, applicant_id: str) -> bool:
        """Whether an applicant connecting now would be newly recorded as attending (cheap: the
        hub asks on every presence change)."""
        state = self.state
        if not tracks_presence(state) or not state.started or state.ended:
            return False
        phase = plans.phase_at(state.plan, self.clock.now())
        return (
            phase.kind == "interview"
            and phase.round is not None
            and (phase.round, applicant_id) not in state.attended
        )

    async def arrived(self, applicant_id: str) -> None:
        """An applicant connected: they attend the interview under way (if any)."""
        if not tracks_presence(self.state):
            return
        try:
            async with self.lock:
                state = self.state
                if not state.started or state.ended or self.lost:
                    return
                phase = plans.phase_at(state.plan, self.clock.now())
                if phase.kind != "interview" or phase.round is None:
                    return
                seen = (phase.round, applicant_id)
                if seen in state.attended:
                    return
                self.state = replace(state, attended=state.attended | {seen})
                await self._save()
        except StaleOwner:
            self._lose()

    def placement(self, applicant_id: str) -> tuple[bool, str | None]:
        """Where an applicant belongs now: (the day is running, room id or None: waiting)."""
        if not self.state.started or self.state.ended:
            return False, None
        return True, room_now(self.state, self.clock.now(), applicant_id)

    async def _carry_out(self, effects: list[Effect], *, stale: bool) -> None:
        statuses: dict[tuple[int, str], str] = {}
        # One query for every reminder of this event, not one per interviewer.
        submitted = (
            await self.ports.submitted(self.state)
            if any(isinstance(e, Prompt) and e.reminder for e in effects)
            else set()
        )
        for effect in effects:
            try:
                if isinstance(effect, Route):
                    await self.ports.route(self.state, effect.applicant_id, effect.room_id)
                elif isinstance(effect, Notify):
                    if stale and effect.payload.get("type") in STALE_NOTICES:
                        continue
                    await self.ports.notify(self.state, effect)
                elif isinstance(effect, SetStatus):
                    statuses[(effect.round, effect.room_id)] = effect.status
                elif isinstance(effect, Prompt):
                    if (
                        effect.reminder
                        and (effect.applicant_id, effect.interviewer_id) in submitted
                    ):
                        continue
                    await self.ports.prompt(self.state, effect)
            except Exception:
                # One participant's failure must not stop the day for everyone else.
                log.exception("effect %s failed", effect)
        if statuses:
            self.state = replace(self.state, statuses={**self.state.statuses, **statuses})
            await self.store.set_statuses(statuses)

    async def _save(self) -> None:
        status = "ended" if self.state.ended else ("running" if self.state.started else "ready")
        await self.store.save(self.state, status)

    # --- what screens show ---------------------------------------------------------------

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        return snapshot(self.state, self.clock.now() if now is None else now)


def _finite(value: float) -> float | None:
    return value if value not in (float("inf"), float("-inf")) else None


def snapshot(state: DayState, now: float) -> dict[str, Any]:
    """Everything a screen needs to draw the day; times are server instants (seconds)."""
    current = plans.phase_at(state.plan, now)
    rounds = []
    for phase in state.plan.phases:
        if phase.kind in ("interview", "review", "break", "welcome", "closing"):
            rounds.append(
                {"kind": phase.kind, "round": phase.round, "start": phase.start, "end": phase.end}
            )
    return {
        "session_id": state.session_id,
        "mode": state.mode,
        "manual": state.manual,
        "started": state.started,
        "ended": state.ended,
        "paused": state.plan.paused,
        "now": now,
        "phase": {
            "kind": current.kind,
            "round": current.round,
            "start": _finite(current.phase.start),
            "end": _finite(current.phase.end),
            "remaining": _finite(current.remaining),
            "overtime": current.overtime,
            "time_left_in_interview": current.time_left_in_interview,
        },
        "timeline": rounds,
        "rounds": state.plan.rounds,
        "rooms": [
            {
                "id": r.id,
                "name": r.name,
                "interviewer_ids": list(r.interviewer_ids),
                "external_url": r.external_url,
            }
            for r in state.rooms
        ],
        "slots": [
            {
                "round": r,
                "room_id": room,
                "applicant_id": who,
                "name": state.names.get(who, ""),
                "status": state.status(r, room),
            }
            for (r, room), who in sorted(state.slots.items())
        ],
        "no_shows": sorted(state.no_shows),
        "held": state.held,
        "removed": sorted(state.removed),
    }
