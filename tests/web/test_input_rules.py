"""The pure rules behind hostile-input handling: text checks, JSON body reading, field types."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from core.errors import AppError, ValidationFailed
from core.textcheck import check_text, control_character
from web.api.fields import Capacity, Email, LongText, Moment, Name, Page, PerPage, Revision, RowId
from web.api.jsonbody import (
    MAX_BYTES,
    MAX_DEPTH,
    is_json_media_type,
    nesting_depth,
    parse_json_body,
)


@pytest.mark.parametrize(
    ("text", "multiline", "found"),
    [
        ("Dr. Zoë O'Brien-Ngũgĩ 张伟", False, None),
        ("a\x00b", False, "\x00"),
        ("a\x7fb", False, "\x7f"),
        ("a\x9bb", False, "\x9b"),  # C1 control
        ("a\ud800b", False, "\ud800"),  # lone surrogate
        ("two\nlines", False, "\n"),
        ("two\r\nlines\tand a tab", True, None),
        ("bell\x07", True, "\x07"),
        ("\u202eright-to-left", False, None),  # format characters are text
    ],
)
def test_control_characters(text: str, multiline: bool, found: str | None) -> None:
    assert control_character(text, multiline=multiline) == found


def test_check_text_names_the_field() -> None:
    check_text("fine", field="name", max_length=10)
    with pytest.raises(ValidationFailed) as error:
        check_text("x" * 11, field="name", max_length=10)
    assert error.value.field == "name"
    with pytest.raises(ValidationFailed, match="U\\+0000"):
        check_text("a\x00", field="name", max_length=10, label="The name")


def test_nesting_depth_ignores_brackets_in_strings() -> None:
    assert nesting_depth(b"{}") == 1
    assert nesting_depth(b'{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert nesting_depth(b'["\\"[[[", [[]]]') == 3
    assert nesting_depth(b"[" * 5000) == 5000


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\xff", "bad_encoding"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "too_deep"),
        (b'{"n": 9223372036854775808}', "number_out_of_range"),
        (b'{"n": -9223372036854775809}', "number_out_of_range"),
        (b'{"n": ' + b"1" * 5000 + b"}", "number_out_of_range"),
        (b'{"n": -1e400}', "number_out_of_range"),
        (b'{"n": Infinity}', "bad_json"),
        (b"{,}", "bad_json"),
    ],
)
def test_bodies_json_cannot_carry(raw: bytes, code: str) -> None:
    with pytest.raises(AppError) as error:
        parse_json_body(raw, "application/json")
    assert (error.value.status, error.value.code) == (400, code)


def test_a_body_over_the_limit_is_413() -> None:
    with pytest.raises(AppError) as error:
        parse_json_body(b" " * (MAX_BYTES + 1), "application/json")
    assert (error.value.status, error.value.code) == (413, "too_large")


def test_good_bodies_and_media_types() -> None:
    body = b'{"a": [1, -9223372036854775808, 9223372036854775807, 1.5, "\\u00e9"]}'
    assert parse_json_body(body, "application/json; charset=utf-8") == {
        "a": [1, -(2**63), 2**63 - 1, 1.5, "é"]
    }
    assert parse_json_body(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "application/json")
    assert is_json_media_type("application/problem+json")
    assert not is_json_media_type("text/plain")
    with pytest.raises(AppError) as error:
        parse_json_body(b"{}", "text/plain")
    assert error.value.status == 415


class Sample(BaseModel):
    name: Name = "n"
    email: Email = "x@demo.test"
    notes: LongText = ""
    capacity: Capacity = 1
    page: Page = 1
    per_page: PerPage = 50
    revision: Revision = 0
    row: RowId = ""
    at: Moment | None = None


@pytest.mark.parametrize(
    "values",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "a\x00b"},
        {"name": "one\ntwo"},
        {"email": "not an email"},
        {"email": "a\x00@demo.test"},
        {"notes": "x" * 10_001},
        {"notes": "bell\x07"},
        {"capacity": 0},
        {"capacity": 10_001},
        {"page": 0},
        {"page": 1_000_001},
        {"per_page": 0},
        {"per_page": -1},
        {"per_page": 501},
        {"revision": -1},
        {"revision": 2**31},
        {"row": "x" * 65},
        {"at": "0001-01-01T00:00:00+14:00"},
        {"at": "9999-12-31T23:59:59-12:00"},
    ],
)
def test_field_types_refuse(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as error:
        Sample.model_validate(values)
    assert error.value.errors()[0]["loc"] == (next(iter(values)),)


def test_field_types_accept_and_strip() -> None:
    sample = Sample.model_validate(
        {
            "name": "  Zoë  ",
            "email": " Dir@Demo.Test ",
            "notes": "a\r\n\tb",
            "at": "2027-01-01T09:00:00+01:00",
        }
    )
    assert (sample.name, sample.email, sample.notes) == ("Zoë", "Dir@Demo.Test", "a\r\n\tb")
