"""`interviewday`: serve, migrate, demo, create-user."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from core.clock import Clock, SystemClock
from core.db import create_engine, create_session_factory
from core.security import Passwords, Tokens
from core.settings import Settings, SettingsError, load_settings
from portal.auth import Auth
from portal.models import ROLES, Applicant, Program, Staff
from web.app import create_app
from web.demo import (
    COORDINATOR_EMAIL,
    DEMO_PASSWORD,
    DEMO_TIMEZONE,
    LIVE_INTERVIEW_MINUTES,
    LIVE_REVIEW_MINUTES,
    LIVE_ROOMS,
    LIVE_ROUNDS,
    LIVE_SESSION,
    DemoLogins,
    seed_demo,
)
from web.demo_live import Cast
from web.drain import drain_on_sigterm
from web.input_guard import PARSER_LIMITS, quiet_protocol_errors
from web.migrate import upgrade


class CliError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interviewday", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--migrate", action="store_true", help="run migrations first")
    sub.add_parser("migrate", help="upgrade the database to the latest schema")
    demo = sub.add_parser(
        "demo",
        help="seed the demo program (idempotent) with a day starting in a few minutes, "
        "and print its logins",
    )
    demo.add_argument(
        "--live",
        action="store_true",
        help="then fill today's demo day on the running server with bot interviewers and "
        "applicants, start it, and print the clock's moves until Ctrl-C",
    )
    demo.add_argument("--url", help="the running server (default: PUBLIC_URL, or host and port)")
    create = sub.add_parser("create-user", help="create a staff account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--program", required=True, help="program slug (created if missing)")
    create.add_argument("--password", help="read from INTERVIEWDAY_PASSWORD or a prompt if absent")
    bot = sub.add_parser(
        "bot",
        help="a headless participant: joins with a token, publishes "
        "synthetic audio and video, counts what it receives",
    )
    bot.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8080")
    bot.add_argument("--token", required=True, help="a join token (POST …/join)")
    bot.add_argument("--seconds", type=float, default=10)
    bot.add_argument("--slots", type=int, default=3)
    load = sub.add_parser("loadtest", help="rooms of bots in worker processes")
    load.add_argument("--rooms", type=int, required=True)
    load.add_argument("--per-room", type=int, required=True)
    load.add_argument("--seconds", type=float, default=10)
    load.add_argument("--workers", type=int, default=1)
    load.add_argument("--url", help="an existing server (needs --secret-key); default: start one")
    load.add_argument("--secret-key", help="the server's INTERVIEWDAY_SECRET_KEY")
    load.add_argument("--width", type=int, default=320)
    load.add_argument("--height", type=int, default=240)
    load.add_argument("--fps", type=int, default=15)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command in ("bot", "loadtest"):
        return _media_command(args)
    try:
        settings = load_settings(os.environ)
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "migrate":
            upgrade(settings.database_url)
            print("database is at the latest schema")
            return 0
        if args.command == "demo":
            return _demo_command(settings, args)
        if args.command == "create-user":
            password = args.password or os.environ.get("INTERVIEWDAY_PASSWORD") or getpass.getpass()
            asyncio.run(_create_user(settings, args, password))
            return 0
    except (SettingsError, CliError) as exc:
        print(f"interviewday: {exc}", file=sys.stderr)
        return 2
    return 1


def _media_command(args: argparse.Namespace) -> int:
    from signaling.bot import BotError
    from web import loadtest

    try:
        if args.command == "bot":
            result = loadtest.bot_main(args.url, args.token, args.seconds, args.slots)
        else:
            if args.rooms < 1 or args.per_room < 1 or args.seconds <= 0:
                raise CliError("--rooms, --per-room and --seconds must be positive")
            if args.url and not args.secret_key:
                raise CliError("--url needs --secret-key to mint join tokens")
            result = loadtest.loadtest(
                args.rooms,
                args.per_room,
                args.seconds,
                url=args.url,
                secret_key=args.secret_key,
                workers=max(1, args.workers),
                width=args.width,
                height=args.height,
                fps=args.fps,
            )
    except (CliError, BotError) as exc:
        print(f"interviewday: {exc}", file=sys.stderr)
        return 2
    loadtest.print_json(result)
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.migrate:
        upgrade(settings.database_url)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    # Our own limits (web/input_guard.py) answer a long URL or header in the JSON error shape;
    # aiohttp's parser must let such requests through to reach them. Beyond its limits it
    # answers a plain 400 itself, logged in one line.
    quiet_protocol_errors()
    app = create_app(settings)
    app.on_startup.append(drain_on_sigterm)
    web.run_app(app, host=host, port=port, print=None, **PARSER_LIMITS)
    return 0


def _demo_command(settings: Settings, args: argparse.Namespace) -> int:
    from web.demo_live import LiveError, check_server

    url = (args.url or settings.public_url).rstrip("/")
    try:
        if args.live:
            logging.getLogger().setLevel(logging.WARNING)  # the bots' media stack is chatty
            asyncio.run(check_server(url))
        upgrade(settings.database_url)
        seeded = asyncio.run(seed_and_link(settings, bots=args.live))
        print_demo(settings.public_url if not args.live else url, seeded, live=args.live)
        if args.live:
            asyncio.run(_live(seeded.cast(url)))
    except LiveError as exc:
        raise CliError(str(exc)) from None
    return 0


@dataclass(frozen=True)
class Seeded:
    logins: DemoLogins
    person: str
    """The applicant left for a person: "Name (email)"."""
    person_token: str
    bot_tokens: tuple[str, ...]

    def cast(self, url: str) -> Cast:
        live = self.logins.live
        return Cast(
            url=url,
            session_id=live.session_id,
            coordinator=COORDINATOR_EMAIL,
            password=DEMO_PASSWORD,
            interviewers=live.interviewer_emails,
            applicant_tokens=self.bot_tokens,
        )


async def seed_and_link(settings: Settings, *, bots: bool, clock: Clock | None = None) -> Seeded:
    """Seeds the demo and issues magic links: the person's, and the bot applicants' if asked."""
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    try:
        passwords = Passwords()
        auth = Auth(
            passwords=passwords,
            tokens=Tokens(settings.secret_key, clock),
            clock=clock,
            magic_link_days=settings.magic_link_days,
        )
        async with create_session_factory(engine)() as db, db.begin():
            logins = await seed_demo(db, passwords, clock)
            tokens: list[str] = []
            person = ""
            emails = logins.live.applicant_emails
            for email in emails if bots else emails[:1]:
                applicant = await db.scalar(select(Applicant).where(Applicant.email == email))
                assert applicant is not None
                person = person or f"{applicant.display_name} ({email})"
                tokens.append(await auth.issue_magic_link(db, applicant))
    finally:
        await engine.dispose()
    return Seeded(logins, person, tokens[0], tuple(tokens[1:]))


def print_demo(url: str, seeded: Seeded, *, live: bool) -> None:
    live_day = seeded.logins.live
    print("Demo program ready. Log in at", url + "/login")
    for email, password in seeded.logins.staff:
        print(f"  {email:<28} {password}")
    when = live_day.starts_at.strftime("%H:%M")
    state = "is running" if live_day.running else f"starts at {when} ({DEMO_TIMEZONE})"
    print(
        f"{LIVE_SESSION} {state}: {LIVE_ROUNDS} rounds of a {LIVE_INTERVIEW_MINUTES}-minute "
        f"interview and a {LIVE_REVIEW_MINUTES}-minute review, interviewers 1-{LIVE_ROOMS}."
    )
    print(f"  Its console (as {COORDINATOR_EMAIL}):")
    print(f"  {url}/sessions/{live_day.session_id}/console")
    print(f"  {seeded.person} is booked into it; their magic link, then their live page:")
    print(f"  {url}/a/{seeded.person_token}")
    print(f"  {url}/live/sessions/{live_day.session_id}")
    if not live:
        print(
            "To see the day move: while the server runs, run `interviewday demo --live` "
            "(bots fill the rooms and start the day)."
        )
    else:
        print(f"Bots play the other interviewers and applicants; {seeded.person} is yours.")
    sys.stdout.flush()


async def _live(cast: Cast) -> None:
    from web.demo_live import run_live

    await run_live(
        cast, asyncio.Event(), say=lambda line: print(line, flush=True), handle_signals=True
    )


async def _create_user(settings: Settings, args: argparse.Namespace, password: str) -> None:
    if len(password) < 8:
        raise CliError("the password must have at least 8 characters")
    email = args.email.strip().lower()
    if "@" not in email:
        raise CliError(f"{args.email!r} is not an email address")
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as db, db.begin():
            if await db.scalar(select(Staff).where(Staff.email == email)):
                raise CliError(f"a staff account with {email} already exists")
            program = await db.scalar(select(Program).where(Program.slug == args.program))
            if program is None:
                program = Program(name=args.program, slug=args.program)
                db.add(program)
                await db.flush()
            db.add(
                Staff(
                    program_id=program.id,
                    email=email,
                    name=args.name,
                    role=args.role,
                    password_hash=Passwords().hash(password),
                )
            )
    finally:
        await engine.dispose()
    print(f"created {args.role} {email} in program {args.program}")


if __name__ == "__main__":
    raise SystemExit(main())
