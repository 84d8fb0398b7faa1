from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    base = {"INTERVIEWDAY_VAR_DIR": str(tmp_path)}
    base.update({f"INTERVIEWDAY_{k}": v for k, v in values.items()})
    return base


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path))
    assert (
        settings.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'interviewday.db').resolve()}"
    )
    assert settings.port == 8080
    assert settings.redis_url is None
    assert settings.ice_servers == ()
    assert settings.public_url == "http://127.0.0.1:8080"
    assert not settings.secure_cookies


def test_secret_key_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(env(tmp_path)).secret_key
    second = load_settings(env(tmp_path)).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_postgres_url_mapped_to_async_driver(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, DATABASE_URL="postgresql://u@localhost/db"))
    assert settings.database_url == "postgresql+asyncpg://u@localhost/db"


def test_https_public_url_makes_cookies_secure(tmp_path: Path) -> None:
    assert load_settings(env(tmp_path, PUBLIC_URL="https://iv.example.org/")).secure_cookies


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "INTERVIEWDAY_PORT"),
        ("PORT", "70000", "INTERVIEWDAY_PORT"),
        ("DATABASE_URL", "mysql://x/y", "INTERVIEWDAY_DATABASE_URL"),
        ("REDIS_URL", "localhost:6379", "INTERVIEWDAY_REDIS_URL"),
        ("SMTP_URL", "mail.example.org", "INTERVIEWDAY_SMTP_URL"),
        ("PUBLIC_URL", "ftp://x", "INTERVIEWDAY_PUBLIC_URL"),
        ("ICE_SERVERS", "http://stun.example.org", "INTERVIEWDAY_ICE_SERVERS"),
        ("ICE_SERVERS", "[{bad json", "INTERVIEWDAY_ICE_SERVERS"),
        ("SECRET_KEY", "short", "INTERVIEWDAY_SECRET_KEY"),
        ("SESSION_HOURS", "0", "INTERVIEWDAY_SESSION_HOURS"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env(tmp_path, **{name: value}))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_ice_servers_json_and_list(tmp_path: Path) -> None:
    listed = load_settings(
        env(tmp_path, ICE_SERVERS="stun:stun.example.org:3478, turn:t.example.org")
    )
    assert [s.urls for s in listed.ice_servers] == [
        ("stun:stun.example.org:3478",),
        ("turn:t.example.org",),
    ]
    as_json = load_settings(
        env(tmp_path, ICE_SERVERS='[{"urls": ["turn:t.example.org"], "secret": "s3"}]')
    )
    assert as_json.ice_servers[0].shared_secret == "s3"
