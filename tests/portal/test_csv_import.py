"""Pure CSV reading: every bad row is reported with its line and reason."""

from __future__ import annotations

import pytest

from portal.csv_import import CsvRejected, decode, parse_applicants, parse_staff, split_full_name


def reasons(parsed: object) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in parsed.problems]  # type: ignore[attr-defined]


def test_applicants_every_bad_row_reported() -> None:
    text = (
        "First Name,Last Name,Email,Status,Timezone,AAMC ID\n"
        "Ann,Lee,ann@x.org,,,12345678\n"
        ",,not-an-email,,,\n"
        "Bo,Li,ANN@X.ORG,sleeping,Mars/Base,12-34\n"
        "\n"
        "Cy,Do,cy@x.org,Invited,America/Chicago,\n"
    )
    parsed = parse_applicants(text)
    assert reasons(parsed) == [
        (3, "bad email 'not-an-email'"),
        (3, "missing name"),
        (4, "duplicate email ann@x.org (also on line 2)"),
        (4, "AAMC ID '12-34' must be digits only"),
        (4, "unknown timezone 'Mars/Base' (use a name like America/New_York)"),
        (
            4,
            "bad status 'sleeping' (use candidate, waitlist, invited, scheduled, declined, "
            "withdrawn, interviewed, no_show)",
        ),
    ]
    assert [r.email for r in parsed.rows] == ["ann@x.org", "cy@x.org"]
    assert parsed.rows[1].status == "invited"
    with pytest.raises(CsvRejected) as caught:
        parsed.raise_if_bad()
    body = caught.value.body()["error"]
    assert body["code"] == "csv_invalid" and body["field"] == "file"
    assert len(body["problems"]) == 6 and "line 3: bad email" in body["message"]


def test_single_name_column() -> None:
    parsed = parse_applicants('name,email\n"Lee, Ann",a@b.co\nJane Q Public,j@b.co\n')
    assert not parsed.problems
    assert [(r.first_name, r.last_name) for r in parsed.rows] == [
        ("Ann", "Lee"),
        ("Jane Q", "Public"),
    ]
    assert split_full_name("Cher") == ("Cher", "")
    assert split_full_name("  ") == ("", "")
    assert [(p.line, p.reason) for p in parse_applicants("name,email\n,a@b.co\n").problems] == [
        (2, "missing name")
    ]


def test_header_problems() -> None:
    assert reasons(parse_applicants("first_name,email\nA,a@b.co\n")) == [
        (1, "missing column(s): name (or first_name and last_name)")
    ]
    unknown = reasons(parse_applicants("name,email,favourite_colour\n"))
    assert unknown[0][0] == 1 and "unknown column 'favourite_colour'" in unknown[0][1]
    assert reasons(parse_applicants("")) == [(1, "the file is empty")]
    assert reasons(parse_applicants("name,email\n")) == [(2, "the file has no rows to import")]


def test_staff_rows() -> None:
    parsed = parse_staff(
        "name,email,role\nDr A,a@x.org,Director\n,b@x.org,interviewer\nC,a@x.org,chief\n"
    )
    assert [(r.email, r.role) for r in parsed.rows] == [("a@x.org", "director")]
    assert reasons(parsed) == [
        (3, "missing name"),
        (4, "duplicate email a@x.org (also on line 2)"),
        (4, "unknown role 'chief' (use director, coordinator, interviewer)"),
    ]
    assert reasons(parse_staff("name,email\nA,a@b.co\n")) == [(1, "missing column(s): role")]


def test_too_many_values_and_not_utf8() -> None:
    parsed = parse_staff("name,email,role\nA,a@b.co,director,extra\n")
    assert reasons(parsed) == [(2, "4 values but the header has 3 columns")]
    with pytest.raises(CsvRejected) as caught:
        decode("name\nJos\xe9\n".encode("latin-1"))
    assert "UTF-8" in caught.value.message
    assert decode("\ufeffname\n".encode()) == "name\n"
