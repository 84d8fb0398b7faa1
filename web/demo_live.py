"""`interviewday demo --live`: bots fill today's demo day on a running server.

The bots come in as people do: staff log in with the demo password, applicants open a magic
link, and every (re)connection asks the join API for a token, so a bot whose connection drops
comes back by itself. One applicant is left for a person, and the coordinators too.

TimeTrack never starts a day by itself (the coordinator's "Start the day" does), so once the
bots are in, this starts the day at once as the coordinator: the clock carries the applicants
into their first rooms within seconds, and to the next ones every three minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:  # aiortc loads only when the bots come, not for `interviewday demo`
    from signaling.bot import LiveBot

WATCH_SECONDS = 0.2
"""How often the room each bot is in is looked at, to print the clock's moves."""
JOIN_ATTEMPTS = 20
CLOSE_SECONDS = 5.0


class LiveError(Exception):
    """Something a person can fix (the server is down, or serves another database)."""


@dataclass(frozen=True)
class Cast:
    """Who comes to today's day: the bots' logins and the applicant left for a person."""

    url: str
    session_id: str
    coordinator: str
    password: str
    interviewers: tuple[str, ...]
    applicant_tokens: tuple[str, ...]
    """Magic-link tokens of the applicants the bots play."""


@dataclass
class Member:
    name: str
    kind: str  # "staff" | "applicant"
    http: aiohttp.ClientSession
    csrf: str
    bot: LiveBot | None = None
    room: str = ""


def http_session() -> aiohttp.ClientSession:
    # unsafe=True: the jar otherwise refuses cookies from an address such as 127.0.0.1.
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
    )


async def check_server(url: str) -> None:
    """Raises `LiveError` unless a server answers at `url`."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(f"{url}/healthz") as response,
        ):
            if response.status == 200:
                return
            problem = f"it answers {response.status} at /healthz"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        problem = str(exc) or type(exc).__name__
    raise LiveError(
        f"no interviewday server at {url} ({problem}); start it first (`make run` or "
        "`interviewday serve`), or name it with --url"
    )


@dataclass
class LiveDemo:
    cast: Cast
    say: Callable[[str], None] = print
    make_bot: Callable[..., LiveBot] | None = None
    """Builds each bot (default: `LiveBot`); tests pass one that records them."""
    members: list[Member] = field(default_factory=list)
    coordinator: Member | None = None

    @property
    def _session_url(self) -> str:
        return f"{self.cast.url}/api/v1/sessions/{self.cast.session_id}"

    async def open(self, *, start: bool = True) -> dict[str, Any]:
        """Logs everyone in, connects the bots, starts the day unless it runs; the day."""
        from media.pacer import Pacer
        from media.synthetic import encode_opus_clip, encode_vp8_clip

        await check_server(self.cast.url)
        self.coordinator = await self._staff(self.cast.coordinator)
        day = await self.day()
        if day["ended"]:
            raise LiveError("today's demo day is over: run `interviewday demo` for a new one")
        staff = [self._staff(email) for email in self.cast.interviewers]
        applicants = [self._applicant(token) for token in self.cast.applicant_tokens]
        self.members = list(await asyncio.gather(*staff, *applicants))
        # Small, cheap video: the bots are there to be seen moving, not to load the server.
        video = encode_vp8_clip(160, 120, frames=15, fps=15, bitrate=100_000)
        audio = encode_opus_clip(frames=25)
        pacer = Pacer()
        for member in self.members:
            member.bot = self._bot(member, video, audio, pacer)
        await asyncio.gather(*(self._connect(m) for m in self.members))
        self.say(f"{len(self.members)} bots joined: " + ", ".join(m.name for m in self.members))
        if start and not day["started"]:
            day = await self.command("start")
            self.say(
                "Started the day now as the coordinator, without waiting for its scheduled "
                "start: the clock moves people at once, then every three minutes."
            )
        elif day["started"]:
            self.say("The day was already running: the bots joined it.")
        return day

    async def watch(self, stop: asyncio.Event) -> None:
        """Says where the clock puts each bot applicant, until `stop` or the day's end."""
        while not stop.is_set():
            for member in self.members:
                if member.bot is None or member.kind != "applicant":
                    continue
                room = str(member.bot.room.get("name") or "")
                if room and room != member.room:
                    member.room = room
                    self.say(f"{time.strftime('%H:%M:%S')}  {member.name} → {room}")
            if self._day_over():
                self.say("The day is over. `interviewday demo` schedules a new one.")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WATCH_SECONDS)

    def _day_over(self) -> bool:
        return any(
            name == "timetrack" and isinstance(data, dict) and data.get("type") == "day_end"
            for member in self.members
            if member.bot is not None
            for name, data in member.bot.events
        )

    async def close(self) -> None:
        for member in self.members:
            if member.bot is not None:
                # Bounded: a bot closed while it reconnects can wait on its old peer
                # connection's close forever, and Ctrl-C must still end the run.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(member.bot.close(), CLOSE_SECONDS)
            await member.http.close()
        if self.coordinator is not None:
            await self.coordinator.http.close()

    async def day(self) -> dict[str, Any]:
        assert self.coordinator is not None
        async with self.coordinator.http.get(f"{self._session_url}/day") as response:
            body = await response.json(content_type=None)
            if response.status != 200:
                raise LiveError(f"the server does not show today's demo day: {_problem(body)}")
            snapshot: dict[str, Any] = body["day"]
            return snapshot

    async def command(self, kind: str) -> dict[str, Any]:
        assert self.coordinator is not None
        async with self.coordinator.http.post(
            f"{self._session_url}/day/commands",
            json={"kind": kind, "command_id": uuid.uuid4().hex},
            headers={"X-CSRF-Token": self.coordinator.csrf},
        ) as response:
            body = await response.json(content_type=None)
        if response.status != 200 or not body.get("ok"):
            raise LiveError(f"the day did not {kind}: {_problem(body)}")
        snapshot: dict[str, Any] = body["day"]
        return snapshot

    async def _staff(self, email: str) -> Member:
        http = http_session()
        try:
            async with http.post(
                f"{self.cast.url}/api/v1/auth/login",
                json={"email": email, "password": self.cast.password},
                headers={"Origin": self.cast.url},
            ) as response:
                body = await response.json(content_type=None)
            if response.status != 200:
                raise LiveError(
                    f"{email} cannot log in ({_problem(body)}): does the server use the same "
                    "database as this command (INTERVIEWDAY_DATABASE_URL, INTERVIEWDAY_VAR_DIR)?"
                )
        except BaseException:
            await http.close()
            raise
        return Member(str(body["name"]), "staff", http, str(body["csrf_token"]))

    async def _applicant(self, token: str) -> Member:
        http = http_session()
        try:
            async with http.get(f"{self.cast.url}/a/{token}", allow_redirects=False) as response:
                if response.status != 303:
                    raise LiveError(
                        f"an applicant's magic link was refused ({response.status}): does the "
                        "server use the same database and secret key as this command?"
                    )
            async with http.get(f"{self.cast.url}/api/v1/auth/me") as response:
                body = await response.json(content_type=None)
        except BaseException:
            await http.close()
            raise
        return Member(str(body["name"]), "applicant", http, str(body["csrf_token"]))

    def _bot(self, member: Member, video: Any, audio: Any, pacer: Any) -> LiveBot:
        async def token() -> str:
            for attempt in range(JOIN_ATTEMPTS):
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with member.http.post(
                        f"{self._session_url}/join",
                        json={},
                        headers={"X-CSRF-Token": member.csrf},
                    ) as response:
                        if response.status == 200:
                            return str((await response.json())["token"])
                        if 400 <= response.status < 500:
                            body = await response.json(content_type=None)
                            raise LiveError(f"{member.name} may not join: {_problem(body)}")
                await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
            raise LiveError(f"{member.name} could not get a join token")

        from signaling.bot import LiveBot

        bot: LiveBot = (self.make_bot or LiveBot)(
            url=self.cast.url,
            token="",
            video=video,
            audio=audio,
            pacer=pacer,
            scope=self.cast.session_id,
            token_source=token,
        )
        return bot

    async def _connect(self, member: Member) -> None:
        assert member.bot is not None and member.bot.token_source is not None
        member.bot.token = await member.bot.token_source()
        await member.bot.connect()


def _problem(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return str(body.get("detail") or body.get("message") or body)[:200]
    return str(body)[:200]


def stop_on_signals(stop: asyncio.Event) -> None:
    """Ctrl-C (and SIGTERM) end the run cleanly. Called again once the bots are connected:
    python-socketio and python-engineio install SIGINT handlers of their own as clients are
    created and connect, which would drop the bots' sockets mid-run."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


async def run_live(
    cast: Cast,
    stop: asyncio.Event,
    say: Callable[[str], None] = print,
    *,
    handle_signals: bool = False,
) -> None:
    """`demo --live`: the bots, the day started, its moves printed until `stop`."""
    demo = LiveDemo(cast, say)
    if handle_signals:
        stop_on_signals(stop)
    opening = asyncio.ensure_future(demo.open())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if opening.done():
            opening.result()  # raises what went wrong
            if handle_signals:
                stop_on_signals(stop)
            say("Ctrl-C stops the bots.")
            await demo.watch(stop)
    finally:
        for task in (opening, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await demo.close()
        say("The bots left.")
