"""A weak link for tests: a network namespace joined to this host by a veth pair, with a
token-bucket (`tbf`) bottleneck on the host's side, so whatever runs in the namespace
receives at most `rate` (its downlink). The namespace and the pair are removed afterwards.

The kernel here has namespaces, veth and tbf but not netem: delay and loss, where a test
needs them, are injected in the bots' own transport instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from tests import services


@dataclass(frozen=True)
class WeakLink:
    namespace: str
    host_ip: str
    inside_ip: str
    host_end: str = ""

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def set_rate(self, rate_kbit: int) -> None:
        """Change the bottleneck while traffic flows (the same tbf, a new rate)."""
        _run("tc", "qdisc", "change", "dev", self.host_end, "root", "tbf", *_tbf(rate_kbit))


def _tbf(rate_kbit: int) -> list[str]:
    # A burst of at least one full-size packet per ms of rate keeps tbf exact at high rates.
    burst = max(16, rate_kbit // 100)
    return ["rate", f"{rate_kbit}kbit", "burst", f"{burst}kbit", "latency", "300ms"]


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def weak_link(rate_kbit: int, subnet: int = 203) -> Iterator[WeakLink]:
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        services.missing("netns", "netns: weak-link tests need root, `ip` and `tc` (iproute2)")
    tag = uuid.uuid4().hex[:6]
    namespace, host_end, inside_end = f"weak-{tag}", f"wh{tag}", f"wn{tag}"
    link = WeakLink(namespace, f"10.{subnet}.0.1", f"10.{subnet}.0.2", host_end)
    try:
        _run("ip", "netns", "add", namespace)
        _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", inside_end)
        _run("ip", "link", "set", inside_end, "netns", namespace)
        _run("ip", "addr", "add", f"{link.host_ip}/24", "dev", host_end)
        _run("ip", "link", "set", host_end, "up")
        _run(*link.command("ip", "addr", "add", f"{link.inside_ip}/24", "dev", inside_end))
        _run(*link.command("ip", "link", "set", inside_end, "up"))
        _run(*link.command("ip", "link", "set", "lo", "up"))
        # The host's egress into the namespace is the subscriber's downlink.
        _run("tc", "qdisc", "add", "dev", host_end, "root", "tbf", *_tbf(rate_kbit))
        yield link
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=20)
