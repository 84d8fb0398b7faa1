"""Issue 13, housekeeping: one free_port and one p95, the email library, no dead dependency."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from portal.csv_import import email_problem

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "email",
    ["a..b@example.com", ".ann@example.com", "ann.@example.com", "ann@exa_mple.com"],
)
def test_csv_emails_the_old_regex_let_through_are_refused(email: str) -> None:
    assert email_problem(email) == f"bad email {email!r}"


@pytest.mark.parametrize("email", ["ann@demo.test", "o'brien+day1@mail.example.org"])
def test_csv_emails_on_test_and_real_domains_pass(email: str) -> None:
    assert email_problem(email) is None


def test_free_port_is_written_once_for_tests_and_once_for_benches() -> None:
    defined = sorted(
        str(path.relative_to(ROOT))
        for folder in ("tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^def free_port\(", path.read_text(), re.MULTILINE)
    )
    assert defined == ["bench/served.py", "tests/services.py"]


def test_benches_share_one_p95_whose_empty_answer_is_null() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import served
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert served.p95([]) is None
    assert served.p95([float(n) for n in range(1, 101)]) == 95.0
    own = [
        path.name
        for path in (ROOT / "bench").glob("*.py")
        if path.name != "served.py" and re.search(r"^def p95\(", path.read_text(), re.MULTILINE)
    ]
    assert own == []


def test_pyproject_warns_on_unused_ignores_and_drops_structlog() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["tool"]["mypy"]["warn_unused_ignores"] is True
    assert not any(dep.startswith("structlog") for dep in project["project"]["dependencies"])


def test_the_seat_lock_lives_with_the_booking_rules() -> None:
    from web import booking_rules, jobs

    for name in ("lock_sessions", "program_rules", "now_of", "session_info"):
        assert getattr(booking_rules, name).__module__ == "web.booking_rules"
    # The request modules import the booking rules from where they live, not from the jobs.
    assert not hasattr(jobs, "now_of")
