import base64
import zlib

import pytest

from core.clock import FakeClock
from core.security import MAX_TOKEN_CHARS, Passwords, TokenError, Tokens


def test_password_hash_roundtrip() -> None:
    passwords = Passwords()
    hashed = passwords.hash("s3cret-pass")
    assert hashed.startswith("$argon2")
    assert passwords.verify(hashed, "s3cret-pass")
    assert not passwords.verify(hashed, "wrong")
    assert not passwords.verify("not-a-hash", "s3cret-pass")


def test_token_roundtrip() -> None:
    tokens = Tokens("k" * 32, FakeClock())
    token = tokens.issue("join", {"session": "s1"})
    assert tokens.read("join", token, max_age_seconds=60) == {"session": "s1"}


async def test_token_expires_by_the_injected_clock() -> None:
    clock = FakeClock()
    tokens = Tokens("k" * 32, clock)
    token = tokens.issue("join", {"session": "s1"})
    await clock.advance(59)
    assert tokens.read("join", token, max_age_seconds=60)
    await clock.advance(2)
    with pytest.raises(TokenError) as info:
        tokens.read("join", token, max_age_seconds=60)
    assert info.value.reason == "expired"


def test_tampered_token_is_invalid() -> None:
    tokens = Tokens("k" * 32, FakeClock())
    token = tokens.issue("join", {"session": "s1"})
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(TokenError) as info:
        tokens.read("join", tampered, max_age_seconds=60)
    assert info.value.reason == "invalid"


def test_token_for_another_purpose_is_refused() -> None:
    tokens = Tokens("k" * 32, FakeClock())
    token = tokens.issue("magic-link", {"l": "x"})
    with pytest.raises(TokenError) as info:
        tokens.read("join", token, max_age_seconds=60)
    assert info.value.reason == "wrong_purpose"


def test_token_signed_with_another_key_is_invalid() -> None:
    token = Tokens("a" * 32, FakeClock()).issue("join", {})
    with pytest.raises(TokenError):
        Tokens("b" * 32, FakeClock()).read("join", token, max_age_seconds=60)


def test_an_unverified_compressed_payload_is_never_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A forged token whose payload inflates to megabytes is refused without inflating it."""

    inflated: list[int] = []

    def inflate(data: bytes) -> bytes:
        inflated.append(len(data))
        raise ValueError("not in this test")

    monkeypatch.setattr("itsdangerous.url_safe.zlib.decompress", inflate)
    bomb = zlib.compress(b'{"p":"' + b"a" * 2_000_000 + b'"}', 9)
    forged = "." + base64.urlsafe_b64encode(bomb).decode().rstrip("=") + ".AAAAAA.signature"
    tokens = Tokens("k" * 32, FakeClock())
    assert len(forged) < MAX_TOKEN_CHARS
    with pytest.raises(TokenError) as info:
        tokens.read("magic-link", forged, max_age_seconds=60)
    assert info.value.reason == "invalid"
    assert inflated == []


def test_tokens_beyond_any_we_issue_are_refused_before_any_work() -> None:
    tokens = Tokens("k" * 32, FakeClock())
    with pytest.raises(TokenError) as info:
        tokens.read("magic-link", "a" * 5000, max_age_seconds=60)
    assert info.value.reason == "invalid"
