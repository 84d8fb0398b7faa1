"""Debian's coturn (`turnserver`) on loopback for the TURN tests.

The server runs with the shared-secret scheme the app speaks (`use-auth-secret`, ephemeral
credentials from `signaling/ice.py`), reads no system configuration, keeps its state and log in
the test's folder, and relays between loopback addresses (coturn refuses loopback peers unless
told otherwise). Where `turnserver` is missing its tests are skipped with the reason shown, or
fail under INTERVIEWDAY_TESTS_REQUIRE=…,coturn.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.settings import IceServer
from tests.services import free_port, missing

HOST = "127.0.0.1"
RELAY_PORTS = 200
STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"
STUN_BINDING_REQUEST = b"\x00\x01"
STUN_BINDING_SUCCESS = b"\x01\x01"


@dataclass(frozen=True)
class TurnServer:
    port: int
    secret: str
    realm: str
    relay_ports: range
    """The ports coturn allocates relayed addresses from (`min-port`..`max-port`)."""
    log_path: Path

    @property
    def url(self) -> str:
        return f"turn:{HOST}:{self.port}?transport=udp"

    def ice_server(self) -> IceServer:
        """What INTERVIEWDAY_ICE_SERVERS='[{"urls": [url], "secret": …}]' parses to."""
        return IceServer(urls=(self.url,), shared_secret=self.secret)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def stun_binding_answered(port: int, timeout: float = 0.2) -> bool:
    """Whether a STUN Binding request to the server's UDP listener gets a success answer."""
    transaction = os.urandom(12)
    request = STUN_BINDING_REQUEST + b"\x00\x00" + STUN_MAGIC_COOKIE + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (HOST, port))
            answer = sock.recv(2048)
        except OSError:  # refused (not listening yet) or timed out
            return False
    return answer[:2] == STUN_BINDING_SUCCESS and answer[8:20] == transaction


@contextlib.contextmanager
def turn_server(folder: Path) -> Iterator[TurnServer]:
    binary = shutil.which("turnserver")
    if binary is None:
        missing("coturn", "coturn: install coturn (Debian package coturn) to run the TURN tests")
    assert binary is not None
    folder.mkdir(parents=True, exist_ok=True)
    first_relay_port = random.randrange(49152, 65535 - RELAY_PORTS)
    server = TurnServer(
        port=free_port(),
        secret=os.urandom(16).hex(),
        realm="interviewday.test",
        relay_ports=range(first_relay_port, first_relay_port + RELAY_PORTS),
        log_path=folder / "turnserver.log",
    )
    # fmt: off
    command = [
        binary,
        "-n",  # no configuration file: /etc/turnserver.conf is the system's, not ours
        "--listening-ip", HOST, "--relay-ip", HOST, "--listening-port", str(server.port),
        "--min-port", str(server.relay_ports.start),
        "--max-port", str(server.relay_ports.stop - 1),
        "--use-auth-secret", "--static-auth-secret", server.secret, "--realm", server.realm,
        "--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
        "--userdb", str(folder / "turndb"), "--pidfile", str(folder / "turnserver.pid"),
        "--log-file", "stdout", "--verbose",
    ]
    # fmt: on
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not stun_binding_answered(server.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver did not start:\n{server.log()[-4000:]}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
