"""Password hashing (argon2) and signed, expiring, single-purpose tokens (itsdangerous)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import threading
from concurrent.futures import Executor
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

    def dummy_hash(self) -> str:
        """A hash no password matches, with this hasher's parameters: verifying against it
        costs what a real verification costs, so unknown accounts answer as slowly as known
        ones. Random salt and digest rather than hashing something, so it is free to make."""
        hasher = self._hasher

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode().rstrip("=")

        kind = hasher.type.name.lower()
        return (
            f"$argon2{kind}$v=19$m={hasher.memory_cost},t={hasher.time_cost},"
            f"p={hasher.parallelism}${b64(os.urandom(hasher.salt_len))}"
            f"${b64(os.urandom(hasher.hash_len))}"
        )


def lower_thread_priority() -> None:
    """For password worker threads: on Linux niceness is per thread (and argon2's lane threads
    inherit it), so a burst of logins yields the CPU to the event loop serving everyone else."""
    # Not Linux, or not permitted: the thread runs at normal priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class PasswordPoolBusy(Exception):
    """Too many password checks are already waiting; the caller should answer 503."""


class PasswordPool:
    """Runs argon2 in a few worker threads (argon2-cffi releases the GIL), off the event loop
    and never while a database connection is held. At most `max_waiting` checks queue up;
    beyond that `PasswordPoolBusy` is raised at once rather than letting a burst of logins
    build a queue that takes minutes to drain."""

    def __init__(self, passwords: Passwords, executor: Executor, *, max_waiting: int = 64) -> None:
        self.passwords = passwords
        self._executor = executor
        self._max_waiting = max_waiting
        self._waiting = 0
        self._dummy_hash = passwords.dummy_hash()
        # Counted so tests can see that unknown accounts take the same path as known ones.
        self.dummy_verifications = 0

    async def _run(self, function: Any, *args: str) -> Any:
        if self._waiting >= self._max_waiting:
            raise PasswordPoolBusy
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        finally:
            self._waiting -= 1

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a missing hash too, after the same work as a real check."""
        if password_hash is None:
            self.dummy_verifications += 1
            await self._run(self.passwords.verify, self._dummy_hash, password)
            return False
        return bool(await self._run(self.passwords.verify, password_hash, password))

    async def rehashed(self, password_hash: str, password: str) -> str | None:
        """A new hash when `password_hash` was made with outdated parameters, else None."""
        if not self.passwords.needs_rehash(password_hash):
            return None
        return str(await self._run(self.passwords.hash, password))


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


MAX_TOKEN_CHARS = 4096
"""Far beyond any token we issue; a longer one is refused before any work."""


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
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("invalid")
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
        # Only to give a clearer reason; the unverified payload is never trusted. A compressed
        # payload ('.' first) is not even inflated: unverified, it could be a zip bomb.
        if token.startswith("."):
            return False
        try:
            _, payload = URLSafeTimedSerializer(self._secret_key).loads_unsafe(token)
        except Exception:
            return False
        return isinstance(payload, dict) and payload.get("p") not in (None, purpose)
