"""Property-based fuzzing of every operation in /api/openapi.json against a real server.

The app runs as `interviewday serve` (the real command, its runner and parser limits) on a
loopback port, over a migrated SQLite database seeded by the test factories. Schemathesis generates
valid and invalid requests from the document, anonymously, as a director (cookie and CSRF
header) and as an applicant, with a fixed seed (`derandomize`) and a bounded number of
examples. No answer may be a 5xx, and the server's log holds no error and no traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
# 2-core machine. INTERVIEWDAY_FUZZ_EXAMPLES=200 digs deeper locally (same seed, more cases),
# INTERVIEWDAY_FUZZ_DATABASE=postgresql runs it against PostgreSQL.
EXAMPLES = int(os.environ.get("INTERVIEWDAY_FUZZ_EXAMPLES", "5"))
LOGGED_OUT_BY = {("POST", "/api/v1/auth/logout")}
"""Operations that would end the fuzzing role's own session: fuzzed anonymously only."""


@dataclass
class Served:
    """`interviewday serve` on a loopback port, over a seeded database."""

    base_url: str
    world: World
    applicant_token: str
    log: Path
    ids: dict[str, str]


SECRET_KEY = "fuzz-secret-key-0123456789abcdef"


async def seed(database_url: str, tmp_path: Path) -> tuple[World, str, dict[str, str]]:
    """The factories' two programs, self-scheduling on in A, a booking, a conflict and a rank
    list (their ids for the path parameters), and a magic link for A's applicant (issued with
    the server's secret key, as mail would carry it)."""
    from core.db import create_engine, create_session_factory
    from portal.models import Applicant, Booking, Program
    from rooms.models import ConflictOfInterest
    from scoring.models import RankList
    from web.app import create_app
    from web.keys import AUTH

    engine = create_engine(database_url)
    try:
        factory = create_session_factory(engine)
        world = await build_world(factory)
        auth = create_app(make_settings(database_url, tmp_path, secret_key=SECRET_KEY))[AUTH]
        async with factory() as db, db.begin():
            program = await db.get(Program, world.a.program_id)
            applicant = await db.get(Applicant, world.a.applicant_id)
            assert program is not None and applicant is not None
            program.options = {"self_scheduling": True}
            token = await auth.issue_magic_link(db, applicant)
            a = world.a
            extra = {
                "booking_id": Booking(
                    program_id=a.program_id, session_id=a.session_id, applicant_id=a.applicant_id
                ),
                "conflict_id": ConflictOfInterest(
                    program_id=a.program_id, applicant_id=a.other_applicant_id, staff_id=a.staff_id
                ),
                "list_id": RankList(program_id=a.program_id, name="Main", is_main=True),
            }
            db.add_all(extra.values())
            await db.flush()
            ids = {name: row.id for name, row in extra.items()}
    finally:
        await engine.dispose()
    return world, token, ids


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Served]:
    from tests import services

    folder = tmp_path_factory.mktemp("fuzz")
    drop = None
    if os.environ.get("INTERVIEWDAY_FUZZ_DATABASE") == "postgresql":  # a deeper local run
        admin_url = request.getfixturevalue("postgres_admin_url")
        database_url, name = services.postgres_copy(admin_url)
        drop = (admin_url, name)
    else:
        database_url = services.sqlite_copy(sqlite_template, folder)
    world, token, ids = asyncio.run(seed(database_url, folder))
    port = services.free_port()
    env = {
        **os.environ,
        "INTERVIEWDAY_DATABASE_URL": database_url,
        "INTERVIEWDAY_SECRET_KEY": SECRET_KEY,
        "INTERVIEWDAY_VAR_DIR": str(folder / "var"),
        "INTERVIEWDAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    env.pop("INTERVIEWDAY_REDIS_URL", None)
    log = folder / "serve.log"
    command = [str(Path(sys.executable).parent / "interviewday"), "serve", "--port", str(port)]
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, server, log)
        yield Served(base_url, world, token, log, ids)
    finally:
        server.terminate()
        server.wait(30)
        if drop is not None:
            services.drop_postgres_database(*drop)


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Polls until the server answers (it prints nothing when ready)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError("serve exited:\n" + log.read_text()[-3000:])
        try:
            requests.get(base_url + "/api/openapi.json", timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("serve did not start:\n" + log.read_text()[-3000:])


def director_session(served: Served) -> tuple[requests.Session, dict[str, str]]:
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
    a = served.world.a
    ids = {
        "session_id": a.session_id,
        # Not the fuzzing applicant: a valid DELETE would end that role's session.
        "applicant_id": a.other_applicant_id,
        "room_id": a.meeting_room_id if "meeting" in path else a.room_id,
        "form_id": a.form_id,
        "staff_id": a.staff_id,
        "interviewer_id": a.interviewer_id,
        "kind": "limited",
        "fmt": "csv",
        **served.ids,
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
    logged = [line for line in served.log.read_text().splitlines() if " ERROR " in line]
    assert operations >= 80, "the document lost its operations"
    assert not problems, f"{len(problems)} server errors:\n" + "\n".join(problems[:40])
    assert not logged, "errors logged by serve:\n" + "\n".join(logged[:20])
    assert "Traceback" not in served.log.read_text()
    print(f"fuzzed {operations} operations as 3 roles in {elapsed:.1f} s")
