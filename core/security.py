"""Password hashing (argon2) and signed, expiring, single-purpose tokens (itsdangerous)."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from core.clock import Clock


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


class TokenError(Exception):
    """Why a token was refused: `expired`, `invalid` (tampered or malformed) or `wrong_purpose`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ClockedSigner(TimestampSigner):
    """Reads the time from our injected clock so expiry is testable without sleeping."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock.now())


class Tokens:
    """Each purpose signs with its own salt, so a token for one purpose never opens another."""

    def __init__(self, secret_key: str, clock: Clock) -> None:
        self._secret_key = secret_key
        self._clock = clock

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self._secret_key,
            salt=f"interviewday.{purpose}",
            signer=_ClockedSigner,
            signer_kwargs={"clock": self._clock},
        )

    def issue(self, purpose: str, payload: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps({"p": purpose, **payload}))

    def read(self, purpose: str, token: str, max_age_seconds: float) -> dict[str, Any]:
        serializer = self._serializer(purpose)
        try:
            data = serializer.loads(token, max_age=int(max_age_seconds))
        except SignatureExpired:
            raise TokenError("expired") from None
        except BadSignature:
            if self._signed_for_other_purpose(token, purpose):
                raise TokenError("wrong_purpose") from None
            raise TokenError("invalid") from None
        if not isinstance(data, dict) or data.get("p") != purpose:
            raise TokenError("wrong_purpose")
        data.pop("p")
        return data

    def _signed_for_other_purpose(self, token: str, purpose: str) -> bool:
        # Only to give a clearer reason; the unverified payload is never trusted.
        try:
            _, payload = URLSafeTimedSerializer(self._secret_key).loads_unsafe(token)
        except Exception:
            return False
        return isinstance(payload, dict) and payload.get("p") not in (None, purpose)
