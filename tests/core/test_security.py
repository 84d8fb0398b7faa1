import pytest

from core.clock import FakeClock
from core.security import Passwords, TokenError, Tokens


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
