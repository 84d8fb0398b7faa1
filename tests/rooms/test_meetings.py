"""Meeting rooms, the pure rules."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import ValidationFailed
from rooms.meetings import MeetingSpec, validate_meeting

EST = timezone(timedelta(hours=-5))
NOON = datetime(2027, 1, 15, 12, tzinfo=EST)


def spec(**overrides: object) -> MeetingSpec:
    values: dict[str, object] = {
        "name": "Lunch",
        "starts_at": NOON,
        "ends_at": NOON + timedelta(hours=1),
        "audience": "both",
        "external_url": None,
        "session_id": None,
    }
    values.update(overrides)
    return MeetingSpec(**values)  # type: ignore[arg-type]


def test_a_valid_room_is_trimmed_and_kept_in_utc() -> None:
    cleaned = validate_meeting(spec(name=" Lunch ", external_url=" ", session_id=""))
    assert cleaned.name == "Lunch" and cleaned.external_url is None and cleaned.session_id is None
    assert cleaned.starts_at == datetime(2027, 1, 15, 17, tzinfo=UTC)
    assert cleaned.starts_at.tzinfo == UTC


@pytest.mark.parametrize("audience", ["applicants", "staff", "both"])
def test_every_audience(audience: str) -> None:
    assert validate_meeting(spec(audience=audience)).audience == audience


def test_a_https_link_is_kept() -> None:
    url = "https://example.zoom.us/j/123?pwd=abc"
    assert validate_meeting(spec(external_url=url)).external_url == url


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"starts_at": datetime(2027, 1, 15, 12)}, "starts_at"),
        ({"ends_at": datetime(2027, 1, 15, 13)}, "ends_at"),
        ({"ends_at": NOON}, "ends_at"),
        ({"ends_at": NOON - timedelta(minutes=1)}, "ends_at"),
        ({"audience": "public"}, "audience"),
        ({"external_url": "http://zoom.us/j/1"}, "external_url"),
        ({"external_url": "javascript:alert(1)"}, "external_url"),
        ({"external_url": "https://"}, "external_url"),
        ({"external_url": "https://a.b/" + "x" * 500}, "external_url"),
    ],
)
def test_invalid_rooms_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_meeting(spec(**overrides))
    assert caught.value.field == field
