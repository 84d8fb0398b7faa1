"""Settings from environment variables, prefix `INTERVIEWDAY_`.

A bad value stops start-up with one line naming the variable (`SettingsError`).
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "INTERVIEWDAY_"

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""


@dataclass(frozen=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None
    # coturn's "use-auth-secret": credentials are derived per user and expire.
    shared_secret: str | None = None


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    redis_url: str | None = None
    # Prefix of every Redis key and channel: two deployments can share one Redis.
    redis_namespace: str = "interviewday"
    smtp_url: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    var_dir: Path = field(default_factory=lambda: Path("var"))
    login_attempts_per_minute: int = 10
    session_hours: int = 12
    magic_link_days: int = 30
    node_id: str = "node-1"
    # How the other nodes reach this one (forwarded requests, relayed sockets, hand-overs).
    internal_url: str = "http://127.0.0.1:8080"
    # Peers whose X-Forwarded-For is believed (the reverse proxy); empty: nobody's.
    trusted_proxies: tuple[IpNetwork, ...] = ()
    # Bearer token for /metrics; without one, /metrics answers loopback peers only.
    metrics_token: str | None = None
    # How long a request waits for a database connection before it is answered 503.
    db_pool_timeout: float = 5.0

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(PREFIX + name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _database_url(raw: str | None, var_dir: Path) -> str:
    if raw is None:
        return f"sqlite+aiosqlite:///{(var_dir / 'interviewday.db').resolve()}"
    scheme = urlsplit(raw).scheme
    # Plain driver names are accepted and mapped onto the async drivers we ship.
    aliases = {
        "sqlite": "sqlite+aiosqlite",
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
    }
    if scheme in aliases:
        return aliases[scheme] + raw[len(scheme) :]
    if scheme in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        return raw
    raise SettingsError(
        f"{PREFIX}DATABASE_URL: unsupported scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


def _port(raw: str | None) -> int:
    if raw is None:
        return 8080
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}PORT: {raw!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{PREFIX}PORT: {port} is outside 0-65535")
    return port


def _url(name: str, raw: str | None, schemes: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise SettingsError(f"{PREFIX}{name}: {raw!r} is not a URL starting with {allowed}")
    return raw


def parse_ice_servers(raw: str | None) -> tuple[IceServer, ...]:
    """`ICE_SERVERS` is a JSON list of `{"urls", "username"?, "credential"?, "secret"?}`,
    or a comma-separated list of stun:/turn:/turns: URLs."""
    name = f"{PREFIX}ICE_SERVERS"
    if raw is None:
        return ()
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{name}: not valid JSON ({exc.msg})") from None
        if not isinstance(items, list):
            raise SettingsError(f"{name}: expected a JSON list")
        servers = []
        for item in items:
            if not isinstance(item, dict) or "urls" not in item:
                raise SettingsError(f"{name}: every entry needs 'urls'")
            urls = item["urls"] if isinstance(item["urls"], list) else [item["urls"]]
            servers.append(
                IceServer(
                    urls=tuple(_ice_url(name, str(u)) for u in urls),
                    username=item.get("username"),
                    credential=item.get("credential"),
                    shared_secret=item.get("secret"),
                )
            )
        return tuple(servers)
    return tuple(IceServer(urls=(_ice_url(name, u.strip()),)) for u in raw.split(",") if u.strip())


def _ice_url(name: str, url: str) -> str:
    if url.split(":", 1)[0] not in ("stun", "stuns", "turn", "turns"):
        raise SettingsError(f"{name}: {url!r} is not a stun:, turn: or turns: URL")
    return url


def parse_trusted_proxies(raw: str | None) -> tuple[IpNetwork, ...]:
    """`TRUSTED_PROXIES`: comma-separated addresses or CIDR networks (`10.0.0.5, 172.28.0.0/16`)."""
    if raw is None:
        return ()
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"{PREFIX}TRUSTED_PROXIES: {item!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _metrics_token(raw: str | None) -> str | None:
    if raw is not None and len(raw) < 16:
        raise SettingsError(f"{PREFIX}METRICS_TOKEN: must be at least 16 characters")
    return raw


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: {raw!r} is not a number of seconds") from None
    if not 0 < value <= 300:
        raise SettingsError(f"{PREFIX}{name}: must be between 0 and 300 seconds")
    return value


def _secret_key(raw: str | None, var_dir: Path) -> str:
    if raw is not None:
        if len(raw) < 16:
            raise SettingsError(f"{PREFIX}SECRET_KEY: must be at least 16 characters")
        return raw
    # Generated once and kept, so sessions and links survive a restart.
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}: {raw!r} is not a whole number") from None
    if value <= 0:
        raise SettingsError(f"{PREFIX}{name}: must be greater than 0")
    return value


def _namespace(raw: str | None) -> str:
    if raw is None:
        return "interviewday"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", raw):
        raise SettingsError(
            f"{PREFIX}REDIS_NAMESPACE: {raw!r} must be 1-64 letters, digits, '.', '_' or '-'"
        )
    return raw


def _reachable(host: str) -> str:
    """A wildcard bind address is not an address another node can connect to."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def load_settings(env: Mapping[str, str]) -> Settings:
    var_dir = Path(_get(env, "VAR_DIR") or "var")
    host = _get(env, "HOST") or "127.0.0.1"
    port = _port(_get(env, "PORT"))
    public_url = _url("PUBLIC_URL", _get(env, "PUBLIC_URL"), ("http", "https"))
    return Settings(
        database_url=_database_url(_get(env, "DATABASE_URL"), var_dir),
        secret_key=_secret_key(_get(env, "SECRET_KEY"), var_dir),
        host=host,
        port=port,
        public_url=(public_url or f"http://{host}:{port}").rstrip("/"),
        redis_url=_url("REDIS_URL", _get(env, "REDIS_URL"), ("redis", "rediss", "unix")),
        redis_namespace=_namespace(_get(env, "REDIS_NAMESPACE")),
        smtp_url=_url("SMTP_URL", _get(env, "SMTP_URL"), ("smtp", "smtps")),
        ice_servers=parse_ice_servers(_get(env, "ICE_SERVERS")),
        var_dir=var_dir,
        login_attempts_per_minute=_positive_int(env, "LOGIN_ATTEMPTS_PER_MINUTE", 10),
        session_hours=_positive_int(env, "SESSION_HOURS", 12),
        magic_link_days=_positive_int(env, "MAGIC_LINK_DAYS", 30),
        node_id=_get(env, "NODE_ID") or "node-1",
        internal_url=(
            _url("INTERNAL_URL", _get(env, "INTERNAL_URL"), ("http", "https"))
            or f"http://{_reachable(host)}:{port}"
        ).rstrip("/"),
        trusted_proxies=parse_trusted_proxies(_get(env, "TRUSTED_PROXIES")),
        metrics_token=_metrics_token(_get(env, "METRICS_TOKEN")),
        db_pool_timeout=_seconds(env, "DB_POOL_TIMEOUT", 5.0),
    )
