"""Requests one node forwards to another are signed: only the cluster can name a client."""

from __future__ import annotations

from web.cluster import sign, verify

SECRET = "cluster-secret-0123456789"


def test_a_fresh_signature_names_its_sender() -> None:
    header = sign(SECRET, "node-1-abcd", 1000.0, "post", "/api/v1/x?y=1", "203.0.113.7")
    assert verify(SECRET, header, 1010.0, "POST", "/api/v1/x?y=1", "203.0.113.7") == "node-1-abcd"


def test_anything_changed_or_stale_is_refused() -> None:
    header = sign(SECRET, "node-1-abcd", 1000.0, "GET", "/p", "203.0.113.7")
    assert verify("other-secret", header, 1000.0, "GET", "/p", "203.0.113.7") is None
    assert verify(SECRET, header, 1000.0, "GET", "/q", "203.0.113.7") is None
    assert verify(SECRET, header, 1000.0, "POST", "/p", "203.0.113.7") is None
    assert verify(SECRET, header, 1000.0, "GET", "/p", "198.51.100.1") is None  # a forged client
    assert verify(SECRET, header, 1031.0, "GET", "/p", "203.0.113.7") is None  # too old
    for garbage in ("", "a;b", "x;not-a-number;00", "a;1;b;c"):
        assert verify(SECRET, garbage, 1000.0, "GET", "/p", "203.0.113.7") is None
