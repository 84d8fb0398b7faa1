"""The client's address behind a trusted proxy, and the per-address limits that key on it."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FakeClock
from core.settings import SettingsError, load_settings, parse_trusted_proxies
from portal.invitations import LINK_REQUESTS_PER_CLIENT_PER_HOUR
from tests.conftest import make_settings
from tests.factories import build_world
from web.app import create_app
from web.client_address import resolve_client
from web.keys import DB

PROXY = parse_trusted_proxies("10.0.0.2, 172.28.0.0/16")


def test_trusted_proxies_parse_addresses_and_networks() -> None:
    assert parse_trusted_proxies(None) == ()
    assert parse_trusted_proxies(" 127.0.0.1 ,, 10.0.0.0/8 , ::1 ") == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    # Host bits set are taken as the network they belong to.
    assert parse_trusted_proxies("192.168.1.7/24") == (ipaddress.ip_network("192.168.1.0/24"),)


@pytest.mark.parametrize("bad", ["proxy.local", "10.0.0.300", "10.0.0.0/33", "*"])
def test_a_bad_trusted_proxy_stops_start_up_naming_the_variable(bad: str, tmp_path: Path) -> None:
    env = {
        "INTERVIEWDAY_VAR_DIR": str(tmp_path),
        "INTERVIEWDAY_TRUSTED_PROXIES": f"10.0.0.1,{bad}",
    }
    with pytest.raises(SettingsError, match="INTERVIEWDAY_TRUSTED_PROXIES") as caught:
        load_settings(env)
    assert repr(bad) in str(caught.value)


def test_load_settings_reads_proxies_and_metrics_token(tmp_path: Path) -> None:
    env = {
        "INTERVIEWDAY_VAR_DIR": str(tmp_path),
        "INTERVIEWDAY_TRUSTED_PROXIES": "172.28.0.10",
        "INTERVIEWDAY_METRICS_TOKEN": "a-long-enough-metrics-token",
        "INTERVIEWDAY_DB_POOL_TIMEOUT": "2.5",
    }
    settings = load_settings(env)
    assert settings.trusted_proxies == (ipaddress.ip_network("172.28.0.10/32"),)
    assert settings.metrics_token == "a-long-enough-metrics-token"
    assert settings.db_pool_timeout == 2.5
    for name, value in (("METRICS_TOKEN", "short"), ("DB_POOL_TIMEOUT", "0")):
        with pytest.raises(SettingsError, match=f"INTERVIEWDAY_{name}"):
            load_settings({**env, f"INTERVIEWDAY_{name}": value})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No trusted proxy in the way: the peer, whatever the header claims.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # The proxy's word for who connected to it.
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        # A client-written hop left of the real one is not believed.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Chained trusted proxies are skipped, across repeated headers too.
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1", "172.28.0.5"], "198.51.100.1"),
        # Garbage stops the walk: the last trusted hop is all we know.
        ("10.0.0.2", ["198.51.100.1, not-an-ip"], "10.0.0.2"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["172.28.0.5"], "172.28.0.5"),
        # Ports and IPv4-mapped IPv6 are normalised, so one client has one key.
        ("10.0.0.2", ["198.51.100.1:4431"], "198.51.100.1"),
        ("::ffff:10.0.0.2", ["[2001:db8::7]:443"], "2001:db8::7"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_resolve_client(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert resolve_client(peer, forwarded, PROXY) == expected


async def _client(aiohttp_client: Any, sqlite_url: str, tmp_path: Path, **overrides: Any) -> Any:
    settings = make_settings(sqlite_url, tmp_path, login_attempts_per_minute=2, **overrides)
    client = await aiohttp_client(create_app(settings, clock=FakeClock()))
    await build_world(client.app[DB])
    return client


async def _bad_logins(client: TestClient, forwarded: str, count: int) -> list[int]:  # type: ignore[type-arg]
    statuses = []
    for i in range(count):
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": f"someone{i}@{forwarded}.test", "password": "nope"},
            headers={"X-Forwarded-For": forwarded},
        )
        statuses.append(response.status)
    return statuses


async def test_behind_a_trusted_proxy_each_client_has_its_own_login_limit(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path
) -> None:
    # 2 per email a minute makes 10 per address; the test client's peer is 127.0.0.1.
    client = await _client(
        aiohttp_client, sqlite_url, tmp_path, trusted_proxies=parse_trusted_proxies("127.0.0.1")
    )
    assert await _bad_logins(client, "198.51.100.1", 11) == [401] * 10 + [429]
    # Another person behind the same proxy is not locked out.
    assert await _bad_logins(client, "198.51.100.2", 1) == [401]


async def test_without_a_trusted_proxy_the_header_is_ignored(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path
) -> None:
    client = await _client(aiohttp_client, sqlite_url, tmp_path)
    assert await _bad_logins(client, "198.51.100.1", 10) == [401] * 10
    # A forged header does not buy a fresh allowance.
    assert await _bad_logins(client, "198.51.100.2", 1) == [429]


async def test_link_requests_are_limited_per_real_client(
    aiohttp_client: Any, sqlite_url: str, tmp_path: Path
) -> None:
    client = await _client(
        aiohttp_client, sqlite_url, tmp_path, trusted_proxies=parse_trusted_proxies("127.0.0.1")
    )

    async def request_link(forwarded: str) -> int:
        response = await client.post(
            "/a/request-link",
            data={"email": "nobody@nowhere.test"},
            headers={"X-Forwarded-For": forwarded},
        )
        return int(response.status)

    allowed = LINK_REQUESTS_PER_CLIENT_PER_HOUR
    statuses = [await request_link("198.51.100.1") for _ in range(allowed + 1)]
    assert statuses == [200] * allowed + [429]
    assert await request_link("198.51.100.2") == 200
