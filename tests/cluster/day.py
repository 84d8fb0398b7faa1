"""A running interview day on a topology, its participants as bots joining through the proxy.

The demo program's first day (4 rooms, 4 interviewers, 4 applicants, 4 rounds) is given an
itinerary, published and started by the coordinator through the proxy. Every participant
logs in through the proxy (staff with their password, applicants with a magic link), asks the
join API for each (re)connection's token, and reconnects by itself with backoff and jitter.
Used by tests/cluster/test_failover.py and bench/failover.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from core.clock import SystemClock
from core.security import Tokens
from media.synthetic import EncodedClip
from portal.auth import MAGIC_LINK_PURPOSE
from signaling.bot import LiveBot
from tests.cluster.harness import SECRET_KEY, Topology, client_session

COORDINATOR = "coordinator@demo.test"


@dataclass
class Tally:
    """Every answer a client got from the cluster, by status; errors are what a user would see."""

    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[tuple[float, str, int]] = field(default_factory=list)

    def record(self, what: str, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500 or status == 409:
            self.errors.append((time.monotonic(), what, status))


@dataclass
class Person:
    kind: str  # "staff" | "applicant"
    person_id: str
    name: str
    http: aiohttp.ClientSession
    csrf: str
    bot: LiveBot | None = None
    participant_id: str = ""
    email: str = ""


@dataclass
class RunningDay:
    topology: Topology
    session_id: str
    coordinator: Person
    people: list[Person]
    tally: Tally

    @property
    def path(self) -> str:
        return f"{self.topology.proxy_url}/api/v1/sessions/{self.session_id}"

    async def day(self) -> dict[str, Any] | None:
        """The day as the console reads it, through the proxy (None on an error answer)."""
        try:
            async with self.coordinator.http.get(f"{self.path}/day") as response:
                self.tally.record("GET day", response.status)
                if response.status != 200:
                    return None
                body: dict[str, Any] = await response.json()
                snapshot: dict[str, Any] = body["day"]
                return snapshot
        except (aiohttp.ClientError, TimeoutError):
            self.tally.record("GET day", 599)
            return None

    async def command(self, kind: str, **args: Any) -> dict[str, Any]:
        async with self.coordinator.http.post(
            f"{self.path}/day/commands",
            json={"kind": kind, "args": args},
            headers={"X-CSRF-Token": self.coordinator.csrf},
        ) as response:
            self.tally.record(f"command {kind}", response.status)
            body: dict[str, Any] = await response.json()
            assert response.status == 200 and body["ok"], body
            return body

    def expected_room(self, day: dict[str, Any], person: Person) -> str | None:
        """The room key the itinerary says `person` is in now (None: waiting, no room)."""
        if person.kind == "staff":
            room = next(r for r in day["rooms"] if person.person_id in r["interviewer_ids"])
            return f"{self.session_id}:{room['id']}"
        current = day["phase"]["round"]
        for slot in day["slots"]:
            if slot["round"] == current and slot["applicant_id"] == person.person_id:
                return f"{self.session_id}:{slot['room_id']}"
        return None

    def partner(self, day: dict[str, Any], person: Person) -> Person | None:
        """Whom `person` should see now: the other side of their current room."""
        room = self.expected_room(day, person)
        for other in self.people:
            same_room = self.expected_room(day, other) == room
            if other is not person and other.kind != person.kind and same_room:
                return other
        return None

    async def owner_instance(self) -> str | None:
        client = aioredis.from_url(self.topology.redis_url)
        try:
            value = await client.get(f"interviewday:lease:scope:{self.session_id}")
        finally:
            await client.aclose()
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def owner_index(self) -> int | None:
        instance = await self.owner_instance()
        if instance is None:
            return None
        node_id = instance.rsplit("-", 1)[0]
        return next((n.index for n in self.topology.nodes if n.node_id == node_id), None)


async def _me(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/api/v1/auth/me") as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def _staff(top: Topology, email: str) -> Person:
    http = client_session()
    await top.login(http, email)
    me = await _me(http, top.proxy_url)
    return Person("staff", me["id"], me["name"], http, me["csrf_token"])


async def _applicant(top: Topology, applicant_id: str, program_id: str) -> Person:
    link_id = secrets.token_hex(8)
    now = datetime.now(UTC)
    await top.admin_execute(
        "INSERT INTO magic_links (id, program_id, applicant_id, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        link_id,
        program_id,
        applicant_id,
        now,
        now + timedelta(days=1),
    )
    token = Tokens(SECRET_KEY, SystemClock()).issue(MAGIC_LINK_PURPOSE, {"l": link_id})
    http = client_session()
    async with http.get(f"{top.proxy_url}/a/{token}", allow_redirects=False) as response:
        assert response.status == 303, await response.text()
    me = await _me(http, top.proxy_url)
    return Person("applicant", me["id"], me["name"], http, me["csrf_token"])


async def _post(http: aiohttp.ClientSession, url: str, csrf: str, tally: Tally) -> Any:
    async with http.post(url, json={}, headers={"X-CSRF-Token": csrf}) as response:
        tally.record(url.rsplit("/", 1)[-1], response.status)
        assert response.status in (200, 201), f"{url}: {response.status} {await response.text()}"
        return await response.json()


@contextlib.asynccontextmanager
async def running_day(
    top: Topology,
    video: list[EncodedClip],
    audio: EncodedClip,
    *,
    in_browser: frozenset[str] = frozenset(),
) -> AsyncIterator[RunningDay]:
    """`in_browser`: staff emails that get no bot (the caller opens their page in Chromium)."""
    tally = Tally()
    coordinator = await _staff(top, COORDINATOR)
    people: list[Person] = []
    try:
        base = f"{top.proxy_url}/api/v1"
        async with coordinator.http.get(f"{base}/sessions") as response:
            listing = await response.json()
        session = next(s for s in listing if s["name"] == "Interview Day 1")
        session_id = session["id"]
        await _post(
            coordinator.http,
            f"{base}/sessions/{session_id}/itinerary/generate",
            coordinator.csrf,
            tally,
        )
        await _post(
            coordinator.http,
            f"{base}/sessions/{session_id}/itinerary/publish",
            coordinator.csrf,
            tally,
        )
        rows = await top.admin_execute(
            "SELECT applicant_id, program_id FROM bookings "
            "WHERE session_id = $1 AND status = 'scheduled' ORDER BY position",
            session_id,
        )
        interviewers = await top.admin_execute(
            "SELECT s.email FROM room_interviewers ri JOIN rooms r ON r.id = ri.room_id "
            "JOIN staff s ON s.id = ri.staff_id WHERE r.session_id = $1 ORDER BY s.email",
            session_id,
        )
        for row in interviewers:
            person = await _staff(top, row["email"])
            person.email = row["email"]
            people.append(person)
        for row in rows:
            people.append(await _applicant(top, row["applicant_id"], row["program_id"]))
        day = RunningDay(top, session_id, coordinator, people, tally)
        await day.command("start")
        for index, person in enumerate(people):
            person.participant_id = f"{session_id}/{person.kind}:{person.person_id}"
            if person.email not in in_browser:
                person.bot = _bot(day, person, video[index % len(video)], audio)
        await asyncio.gather(*(p.bot.connect() for p in people if p.bot is not None))
        yield day
    finally:
        for person in people:
            if person.bot is not None:
                with contextlib.suppress(Exception):
                    await person.bot.close()
            await person.http.close()
        await coordinator.http.close()


def _bot(day: RunningDay, person: Person, video: EncodedClip, audio: EncodedClip) -> LiveBot:
    join_url = f"{day.path}/join"

    async def token() -> str:
        for attempt in range(20):
            try:
                async with person.http.post(
                    join_url, json={}, headers={"X-CSRF-Token": person.csrf}
                ) as response:
                    day.tally.record("join", response.status)
                    if response.status == 200:
                        return str((await response.json())["token"])
            except (aiohttp.ClientError, TimeoutError):
                day.tally.record("join", 599)
            await asyncio.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{person.name} could not get a join token")

    bot = LiveBot(
        url=day.topology.proxy_url,
        token="",
        video=video,
        audio=audio,
        scope=day.session_id,
        token_source=token,
    )
    original_connect = bot.connect

    async def connect_with_fresh_token() -> None:
        bot.token = await token()
        await original_connect()

    bot.connect = connect_with_fresh_token  # type: ignore[method-assign]
    return bot


def decoding_partner(
    day: RunningDay, snapshot: dict[str, Any], person: Person, since: float
) -> bool:
    """Whether `person`'s bot receives video from whoever the itinerary puts in its room."""
    partner = day.partner(snapshot, person)
    if partner is None or person.bot is None:
        return True  # alone in the room (a rest round): nothing to see
    return person.bot.frames_from(partner.participant_id, since) >= 3


async def wait_all_decoding(
    day: RunningDay, snapshot: dict[str, Any], since: float, within: float
) -> dict[str, float | None]:
    """Per participant: seconds from `since` until it receives its partner's video again
    (None: not within `within`)."""
    back: dict[str, float | None] = {p.name: None for p in day.people}
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(v is None for v in back.values()):
        for person in day.people:
            if back[person.name] is None and decoding_partner(day, snapshot, person, since):
                back[person.name] = time.monotonic() - since
        await asyncio.sleep(0.05)
    return back
