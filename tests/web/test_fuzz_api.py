"""Property-based fuzzing of every operation in /api/openapi.json against a real server.

The app runs on a loopback port (its own thread and event loop, the `serve` runner's parser
limits) over a migrated SQLite database seeded by the test factories. Schemathesis generates
valid and invalid requests from the document, anonymously, as a director (cookie and CSRF
header) and as an applicant, with a fixed seed (`derandomize`) and a bounded number of
examples. No answer may be a 5xx, and nothing may be logged as an unhandled error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from tests.conftest import make_settings
from tests.factories import PASSWORD, World, build_world
from web.session import COOKIE_NAME

pytestmark = pytest.mark.slow

# Examples per operation and generation mode (valid, invalid), each sent as every role: enough
# to reach every validator and handler the document describes, few enough for CI on a loaded
# 2-core machine.
EXAMPLES = 10
LOGGED_OUT_BY = {("POST", "/api/v1/auth/logout")}
"""Operations that would end the fuzzing role's own session: fuzzed anonymously only."""


@dataclass
class Served:
    """The app on a loopback port, in a thread with its own event loop."""

    base_url: str = ""
    world: World | None = None
    applicant_token: str = ""
    errors: list[logging.LogRecord] = field(default_factory=list)
    stop: Callable[[], None] = lambda: None


class ErrorLog(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def serve_in_thread(database_url: str, tmp_path: Path) -> Served:
    from aiohttp import web

    from portal.models import Applicant, Program
    from web.app import create_app
    from web.input_guard import PARSER_LIMITS
    from web.keys import AUTH, DB

    served = Served()
    ready = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        app = create_app(make_settings(database_url, tmp_path))
        runner = web.AppRunner(app, **PARSER_LIMITS)
        await runner.setup()
        try:
            served.world = await build_world(app[DB])
            async with app[DB]() as db, db.begin():
                program = await db.get(Program, served.world.a.program_id)
                applicant = await db.get(Applicant, served.world.a.applicant_id)
                assert program is not None and applicant is not None
                program.options = {"self_scheduling": True}
                served.applicant_token = await app[AUTH].issue_magic_link(db, applicant)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            served.base_url = f"http://{host}:{port}"
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            served.stop = lambda: loop.call_soon_threadsafe(stopping.set)
            ready.set()
            await stopping.wait()
        finally:
            await runner.cleanup()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="fuzzed-app", daemon=True)
    thread.start()
    ready.wait(60)
    if failure:
        raise failure[0]
    stop = served.stop

    def stop_and_join() -> None:
        stop()
        thread.join(30)

    served.stop = stop_and_join
    return served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Served]:
    from tests import services

    folder = tmp_path_factory.mktemp("fuzz")
    server = serve_in_thread(services.sqlite_copy(sqlite_template, folder), folder)
    handler = ErrorLog(server.errors)
    watched = [logging.getLogger(name) for name in ("interviewday", "aiohttp")]
    for logger in watched:
        logger.addHandler(handler)
    yield server
    for logger in watched:
        logger.removeHandler(handler)
    server.stop()


def director_session(served: Served) -> tuple[requests.Session, dict[str, str]]:
    assert served.world is not None
    session = requests.Session()
    answer = session.post(
        served.base_url + "/api/v1/auth/login",
        json={"email": served.world.a.director_email, "password": PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return session, {"X-CSRF-Token": answer.json()["csrf_token"]}


def applicant_session(served: Served) -> tuple[requests.Session, dict[str, str]]:
    session = requests.Session()
    opened = session.get(served.base_url + f"/a/{served.applicant_token}", timeout=30)
    assert opened.status_code == 200, opened.text[:500]
    me = session.get(served.base_url + "/api/v1/auth/me", timeout=30).json()
    return session, {"X-CSRF-Token": me["csrf_token"]}


def known_ids(served: Served, path: str) -> dict[str, str]:
    """Real ids for the path parameters, so valid requests reach the handlers' logic."""
    assert served.world is not None
    a = served.world.a
    ids = {
        "session_id": a.session_id,
        # Not the fuzzing applicant: a valid DELETE would end that role's session.
        "applicant_id": a.other_applicant_id,
        "room_id": a.meeting_room_id if "meeting" in path else a.room_id,
        "form_id": a.form_id,
        "staff_id": a.staff_id,
        "interviewer_id": a.interviewer_id,
    }
    return {name: value for name, value in ids.items() if "{" + name + "}" in path}


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    callers: dict[str, Callable[[Any], requests.Response]],
    path_parameters: dict[str, str] | None,
) -> list[str]:
    """Sends each generated request as every role; returns the server errors seen."""
    problems: list[str] = []
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        for role, call in callers.items():
            if role != "anonymous" and (case.method.upper(), operation.path) in LOGGED_OUT_BY:
                continue
            if role == "anonymous" and mode == GenerationMode.POSITIVE:
                continue  # valid requests without a session end at the 401; invalid ones probe
            response = call(case)
            if response.status_code >= 500:
                problems.append(
                    f"{response.status_code} as {role}: {case.method} {case.formatted_path} "
                    f"query={case.query!r} body={str(case.body)[:300]!r}: {response.text[:300]}"
                )

    run()
    return problems


def role_caller(
    served: Served, session: requests.Session, headers: dict[str, str]
) -> Callable[[Any], requests.Response]:
    # The document declares the session cookie, so schemathesis generates values for it:
    # anonymous requests keep those (garbage cookies are input too); a logged-in role sends
    # its real one.
    cookies = {COOKIE_NAME: session.cookies[COOKIE_NAME]} if COOKIE_NAME in session.cookies else {}

    def call(case: Any) -> requests.Response:
        return case.call(  # type: ignore[no-any-return]
            base_url=served.base_url, session=session, headers=headers, cookies=cookies, timeout=30
        )

    return call


def test_no_generated_request_is_a_server_error(served: Served) -> None:
    document = requests.get(served.base_url + "/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    callers = {
        "anonymous": role_caller(served, requests.Session(), {}),
        "director": role_caller(served, *director_session(served)),
        "applicant": role_caller(served, *applicant_session(served)),
    }
    started = time.monotonic()
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        ids = known_ids(served, operation.path)
        problems += fuzz_operation(operation, GenerationMode.POSITIVE, callers, ids or None)
        problems += fuzz_operation(operation, GenerationMode.NEGATIVE, callers, None)
    elapsed = time.monotonic() - started
    logged = [f"{r.name}: {r.getMessage()}" for r in served.errors]
    assert operations >= 80, "the document lost its operations"
    assert not problems, f"{len(problems)} server errors:\n" + "\n".join(problems[:40])
    assert not logged, "unhandled errors logged:\n" + "\n".join(logged[:20])
    print(f"fuzzed {operations} operations as 3 roles in {elapsed:.1f} s")
