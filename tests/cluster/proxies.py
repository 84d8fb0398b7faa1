"""The reverse proxies of the test topology, configured from the files shipped in deploy/.

Caddy reads deploy/Caddyfile through its environment placeholders; the only line added is a
`bind 127.0.0.1`, so the listener stays on loopback (Caddy 2.6 has no global default bind).
HAProxy's configuration cannot loop over a list, so deploy/haproxy.cfg is rewritten in three
places only: the `global` section, the frontend's `bind` lines (one plain-HTTP loopback
listener, hence no redirect to HTTPS) and the `server` lines of `backend nodes`. Every other
directive, the balancing, checks, retries, timeouts and headers, runs as shipped.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "Caddyfile"
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
PROXIES = ("caddy", "haproxy")
# Whether a request with a body (a POST) that was sent to a node which had just died is retried
# on another. HAProxy keeps the request until a connection stands. Caddy before the fix of
# caddyserver/caddy#7546 (2026; Debian 12 ships 2.6.2) closes the body on the failed dial and
# answers 502 "invalid Read on closed Body"; the failure also takes the node out of rotation,
# so it costs one request per crashed node. A GET is retried by both.
RETRIES_BODIES = {"caddy": False, "haproxy": True}

SITE_LINE = "{$INTERVIEWDAY_SITE_ADDRESS} {"
HAPROXY_GLOBAL = ["global", "\tlog stdout format raw local0", ""]
SECTION = re.compile(r"^(global|defaults|frontend|backend|listen|resolvers|peers)\b")


class ProxyConfigError(AssertionError):
    """The shipped file no longer has the lines the topology rewrites."""


@dataclass(frozen=True)
class ProxyLaunch:
    argv: list[str]
    env: dict[str, str]
    check: list[str]  # validates the generated configuration before starting


def binary(kind: str) -> str | None:
    return shutil.which(kind) or next(
        (str(p) for p in (Path("/usr/bin") / kind, Path("/usr/sbin") / kind) if p.exists()), None
    )


def caddyfile_for_loopback(shipped: str) -> str:
    lines = shipped.splitlines()
    sites = [i for i, line in enumerate(lines) if line.strip() == SITE_LINE]
    if len(sites) != 1:
        raise ProxyConfigError(f"deploy/Caddyfile: expected one site block `{SITE_LINE}`")
    lines.insert(sites[0] + 1, "\tbind 127.0.0.1")
    return "\n".join(lines) + "\n"


def caddy_launch(
    executable: str, folder: Path, port: int, upstreams: Sequence[str], base_env: dict[str, str]
) -> ProxyLaunch:
    config = folder / "Caddyfile"
    config.write_text(caddyfile_for_loopback(CADDYFILE.read_text()))
    env = {
        **base_env,
        # Caddy keeps certificates and an autosaved config under these; not in $HOME.
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "INTERVIEWDAY_SITE_ADDRESS": f"http://127.0.0.1:{port}",
        "INTERVIEWDAY_UPSTREAMS": " ".join(upstreams),
        # Several topologies (and a system Caddy) may run at once: no shared admin port.
        "INTERVIEWDAY_CADDY_ADMIN": "off",
    }
    args = ["--adapter", "caddyfile", "--config", str(config)]
    return ProxyLaunch([executable, "run", *args], env, [executable, "validate", *args])


def _sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Top-level sections with their lines (the header first); text before the first section
    (comments) is a section named ''."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        if SECTION.match(line):
            sections.append((line.strip(), [line]))
        else:
            sections[-1][1].append(line)
    return sections


def _replace_lines(body: list[str], starts: str, replacement: list[str], where: str) -> list[str]:
    hits = [i for i, line in enumerate(body) if line.strip().startswith(starts)]
    if not hits:
        raise ProxyConfigError(f"deploy/haproxy.cfg: no `{starts}` line in {where}")
    kept = [line for i, line in enumerate(body) if i not in hits]
    return kept[: hits[0]] + replacement + kept[hits[0] :]


def haproxy_for_loopback(shipped: str, port: int, upstreams: Sequence[str]) -> str:
    output: list[str] = []
    seen = set()
    for header, body in _sections(shipped.splitlines()):
        kind = header.split(" ", 1)[0]
        seen.add(kind)
        if kind == "global":
            body = HAPROXY_GLOBAL
        elif kind == "frontend":
            body = _replace_lines(body, "bind ", [f"\tbind 127.0.0.1:{port}"], header)
            body = [line for line in body if "redirect scheme https" not in line]
        elif header == "backend nodes":
            servers = [f"\tserver node-{i} {u}" for i, u in enumerate(upstreams, start=1)]
            body = _replace_lines(body, "server ", servers, header)
        output += body
    if not {"global", "frontend"} <= seen or "backend nodes" not in shipped:
        raise ProxyConfigError("deploy/haproxy.cfg: expected global, frontend and backend nodes")
    return "\n".join(output) + "\n"


def haproxy_launch(
    executable: str, folder: Path, port: int, upstreams: Sequence[str], base_env: dict[str, str]
) -> ProxyLaunch:
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_for_loopback(HAPROXY_CFG.read_text(), port, upstreams))
    # -db: stay in the foreground, so the process we start is the one that serves.
    return ProxyLaunch(
        [executable, "-db", "-f", str(config)], base_env, [executable, "-c", "-f", str(config)]
    )


def launch(
    kind: str,
    executable: str,
    folder: Path,
    port: int,
    upstreams: Sequence[str],
    base_env: dict[str, str],
) -> ProxyLaunch:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "caddy":
        return caddy_launch(executable, folder, port, upstreams, base_env)
    if kind == "haproxy":
        return haproxy_launch(executable, folder, port, upstreams, base_env)
    raise ValueError(f"unknown proxy {kind!r}: use one of {PROXIES}")
