"""Trickled ICE candidate lines, checked field by field (pure)."""

from __future__ import annotations

import pytest

from signaling.candidates import parse_candidate


@pytest.mark.parametrize(
    "line",
    [
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "1 1 UDP 2122252543 192.168.1.2 50000 typ host",
        "candidate:842163049 1 udp 1677729535 203.0.113.5 3478 typ srflx raddr 10.0.0.2 rport "
        "50000 generation 0 ufrag abcd network-cost 999",
        "candidate:3 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active",
        "candidate:4 1 udp 2130706431 6b3c2a1e-1f2d-4c5b-9a8e-7d6c5b4a3f2e.local 50000 typ host",
    ],
)
def test_browser_candidates_parse(line: str) -> None:
    candidate = parse_candidate(line)
    assert candidate.port in (50000, 3478, 9)
    assert candidate.type in ("host", "srflx")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "candidate:",
        "candidate:1 1 udp",
        "candidate:1 1 udp 2130706431 127.0.0.1 50000 host x",
        "candidate:1 0 udp 2130706431 127.0.0.1 50000 typ host",
        "candidate:1 1 sctp 2130706431 127.0.0.1 50000 typ host",
        "candidate:1 1 udp -5 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 4294967296 127.0.0.1 50000 typ host",
        "candidate:1 1 udp 1 127.0.0.1 65536 typ host",
        "candidate:1 1 udp 1 127.0.0.1 ５０ typ host",
        "candidate:1 1 udp 1 127.0.0.1 50 typ peer",
        "candidate:1 1 udp 1 127.0.0.1 50 typ host raddr",
        "candidate:1 1 udp 1 127.0.0.1 50 typ srflx raddr 1.2.3.4 rport 99999",
        "candidate:1 1 tcp 1 127.0.0.1 50 typ host tcptype sideways",
        "candidate:" + "f" * 33 + " 1 udp 1 127.0.0.1 50 typ host",
    ],
)
def test_malformed_candidates_raise_value_error(line: str) -> None:
    with pytest.raises(ValueError):
        parse_candidate(line)
