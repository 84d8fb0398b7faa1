"""Report aggregation, the pure part: counts per status, seats, bars and CSV."""

import csv
import io
from datetime import date

from portal.reports import (
    RoomLine,
    SeatFill,
    SessionSummary,
    Table,
    bar_percent,
    csv_text,
    rooms_table,
    sessions_table,
    status_counts,
    status_table,
)


def test_every_status_in_order_with_zeros_and_shares() -> None:
    counts = status_counts({"invited": 3, "scheduled": 1})
    assert [c.status for c in counts][:3] == ["candidate", "waitlist", "invited"]
    assert {c.status: c.count for c in counts}["declined"] == 0
    invited = next(c for c in counts if c.status == "invited")
    assert invited.percent == 75.0 and invited.label == "invited"
    assert next(c for c in counts if c.status == "no_show").label == "no show"


def test_unknown_statuses_are_listed_last_not_lost() -> None:
    counts = status_counts({"archived": 2})
    assert counts[-1].status == "archived" and counts[-1].percent == 100.0


def test_no_applicants_means_zero_percent() -> None:
    assert all(c.percent == 0.0 for c in status_counts({}))


def test_seats() -> None:
    half = SeatFill(capacity=4, scheduled=2, waitlisted=5)
    assert (half.open_seats, half.percent, half.over_capacity) == (2, 50.0, False)
    over = SeatFill(capacity=2, scheduled=3, waitlisted=0)
    assert (over.open_seats, over.percent, over.over_capacity) == (0, 150.0, True)
    unset = SeatFill(capacity=0, scheduled=3, waitlisted=0)
    assert (unset.percent, unset.over_capacity) == (None, False)


def test_bars_are_relative_to_the_longest() -> None:
    assert bar_percent(5, 10) == 50.0 and bar_percent(0, 0) == 0.0


def test_tables() -> None:
    summary = SessionSummary(
        id="s1",
        name="Jan 15",
        date=date(2027, 1, 15),
        mode="native",
        seats=SeatFill(0, 1, 0),
        rooms=3,
        interviewers=4,
    )
    (row,) = sessions_table([summary]).rows
    assert row == ("Jan 15", "2027-01-15", "native", 0, 1, 0, 0, None, 3, 4)
    assert rooms_table([RoomLine("R1", ("A", "B"))]).rows == (("R1", 2, "A; B"),)
    assert status_table(status_counts({"invited": 1})).header == ("status", "applicants", "percent")


def test_csv_quotes_and_neutralises_formulas() -> None:
    table = Table(("name", "value"), (("=HYPERLINK(1)", 1), ("a, b", None), ("-3", -3)))
    text = csv_text(table)
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "value"], ["'=HYPERLINK(1)", "1"], ["a, b", ""], ["'-3", "-3"]]
