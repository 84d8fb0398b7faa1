"""`interviewday`: serve, migrate, demo, create-user."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from datetime import date

from aiohttp import web
from sqlalchemy import select

from core.clock import SystemClock
from core.db import create_engine, create_session_factory
from core.security import Passwords
from core.settings import Settings, SettingsError, load_settings
from portal.auth import Auth
from portal.models import ROLES, Applicant, Program, Staff
from web.app import create_app
from web.demo import seed_demo
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
    sub.add_parser("demo", help="seed the demo program (idempotent) and print its logins")
    create = sub.add_parser("create-user", help="create a staff account")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--program", required=True, help="program slug (created if missing)")
    create.add_argument("--password", help="read from INTERVIEWDAY_PASSWORD or a prompt if absent")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings(os.environ)
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "migrate":
            upgrade(settings.database_url)
            print("database is at the latest schema")
            return 0
        if args.command == "demo":
            upgrade(settings.database_url)
            asyncio.run(_demo(settings))
            return 0
        if args.command == "create-user":
            password = args.password or os.environ.get("INTERVIEWDAY_PASSWORD") or getpass.getpass()
            asyncio.run(_create_user(settings, args, password))
            return 0
    except (SettingsError, CliError) as exc:
        print(f"interviewday: {exc}", file=sys.stderr)
        return 2
    return 1


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.migrate:
        upgrade(settings.database_url)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    web.run_app(create_app(settings), host=host, port=port, print=None)
    return 0


async def _demo(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        clock = SystemClock()
        passwords = Passwords()
        async with factory() as db, db.begin():
            logins = await seed_demo(db, passwords, date.today())
            applicant = await db.scalar(
                select(Applicant).where(Applicant.email == logins.applicant_email)
            )
            assert applicant is not None
            from core.security import Tokens

            auth = Auth(
                passwords=passwords,
                tokens=Tokens(settings.secret_key, clock),
                clock=clock,
                magic_link_days=settings.magic_link_days,
            )
            token = await auth.issue_magic_link(db, applicant)
    finally:
        await engine.dispose()
    print("Demo program ready. Log in at", settings.public_url + "/login")
    for email, password in logins.staff:
        print(f"  {email:<28} {password}")
    print(f"Applicant ({logins.applicant_email}) magic link:")
    print(f"  {settings.public_url}/a/{token}")


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
