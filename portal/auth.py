"""Staff logins, server-side web sessions, the login rate limit and applicants' magic links."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock, to_datetime
from core.errors import AppError, TooManyRequests, Unauthorized
from core.security import PasswordPool, Passwords, TokenError, Tokens
from portal.models import Applicant, LoginAttempt, MagicLink, Staff, WebSession
from portal.permissions import Actor, can_switch

MAGIC_LINK_PURPOSE = "magic-link"
TOO_MANY = "Too many failed attempts. Wait a minute and try again."
MAX_EMAIL = 254
MAX_PASSWORD = 500


class LoginsBusy(Exception):
    """Logins have queued longer than `login_wait_seconds`; the caller should answer 503."""


class KnownLimits:
    """Keys this node has seen at their limit, and until when: further attempts are refused
    without a transaction, so a burst against one email costs the database ten attempts, not
    two hundred. Only refusals the database would also give are remembered; a success on another
    node that forgives an email's failures is seen here when the remembered minute ends."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._until: dict[str, datetime] = {}

    def any_limited(self, keys: tuple[str, ...], now: datetime) -> bool:
        return any(self._until.get(key, now) > now for key in keys)

    def remember(self, key: str, until: datetime) -> None:
        if len(self._until) >= self.max_keys:
            oldest = min(self._until, key=self._until.__getitem__)
            del self._until[oldest]
        self._until[key] = until

    def forget(self, key: str) -> None:
        self._until.pop(key, None)


def session_key(cookie_value: str) -> str:
    # The database keeps a hash, so a leaked table does not hand out live sessions.
    return hashlib.sha256(cookie_value.encode()).hexdigest()


@dataclass(frozen=True)
class LoginResult:
    cookie_value: str
    csrf_token: str
    actor: Actor


@dataclass(frozen=True)
class ResolvedSession:
    actor: Actor
    session_id: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ReservedAttempt:
    """What the first, short transaction of a login found: the attempt is already counted."""

    email: str
    client_attempt_id: str
    staff_id: str | None
    # None for an unknown, inactive or password-less account: verified against a dummy.
    password_hash: str | None


def advisory_lock_id(key: str) -> int:
    """A stable signed 64-bit number for `pg_advisory_xact_lock`."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


async def lock_rate_keys(db: AsyncSession, keys: list[str]) -> None:
    """Serializes count-then-insert per key until the transaction ends, so concurrent requests
    cannot all see room under the limit. PostgreSQL: transaction-level advisory locks, taken in
    one order to avoid deadlocks. SQLite: a write first, so this transaction holds the one write
    lock (and reads the latest rows) from here on, whether it began deferred or immediate."""
    if db.get_bind().dialect.name == "postgresql":
        for key in sorted(set(keys)):
            await db.execute(select(func.pg_advisory_xact_lock(advisory_lock_id(key))))
    else:
        await db.execute(delete(LoginAttempt).where(false()))


@dataclass
class Auth:
    passwords: Passwords
    tokens: Tokens
    clock: Clock
    attempts_per_minute: int = 10
    # Per client address: generous, since behind NAT a whole hospital may share one address;
    # the per-email limit is the one that protects an account.
    attempts_per_client_per_minute: int = 50
    session_hours: int = 12
    magic_link_days: int = 30
    login_transactions: int = 4
    login_wait_seconds: float = 5.0
    _login_gate: asyncio.Semaphore = field(init=False, repr=False)
    _limited: KnownLimits = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._login_gate = asyncio.Semaphore(self.login_transactions)
        self._limited = KnownLimits()

    @contextlib.asynccontextmanager
    async def _login_transaction(
        self, factory: async_sessionmaker[AsyncSession]
    ) -> AsyncIterator[AsyncSession]:
        """A login's transaction, at most `login_transactions` at once: a burst of logins waits
        here, holding no connection, instead of taking the pool from everyone else."""
        try:
            async with asyncio.timeout(self.login_wait_seconds):
                await self._login_gate.acquire()
        except TimeoutError:
            raise LoginsBusy from None
        try:
            async with factory() as db, db.begin():
                yield db
        finally:
            self._login_gate.release()

    async def login(
        self,
        factory: async_sessionmaker[AsyncSession],
        pool: PasswordPool,
        email: str,
        password: str,
        client: str,
    ) -> LoginResult:
        """Two short transactions around a password check that holds no connection: a burst of
        logins queues for the password workers, never for the database pool."""
        if len(email) > MAX_EMAIL or len(password) > MAX_PASSWORD:
            # No account has such an email (the column holds 254), so nothing to limit or check.
            raise Unauthorized("Wrong email or password.", code="bad_credentials", field="password")
        keys = (f"email:{email.strip().lower()}", f"client:{client}")
        if self._limited.any_limited(keys, to_datetime(self.clock.now())):
            raise TooManyRequests(TOO_MANY)
        async with self._login_transaction(factory) as db:
            reserved = await self.reserve_attempt(db, email, client)
        if not await pool.verify(reserved.password_hash, password):
            raise Unauthorized("Wrong email or password.", code="bad_credentials", field="password")
        assert reserved.password_hash is not None
        new_hash = await pool.rehashed(reserved.password_hash, password)
        async with self._login_transaction(factory) as db:
            return await self.complete_login(db, reserved, new_hash)

    async def reserve_attempt(self, db: AsyncSession, email: str, client: str) -> ReservedAttempt:
        """Counts this attempt against the email and the client before the password is checked,
        so the limit holds however many arrive at once. Raises `TooManyRequests`."""
        email = email.strip().lower()
        now = to_datetime(self.clock.now())
        window_start = now - timedelta(minutes=1)
        email_key, client_key = f"email:{email}", f"client:{client}"
        limits = {
            email_key: self.attempts_per_minute,
            client_key: self.attempts_per_client_per_minute,
        }
        await lock_rate_keys(db, list(limits))
        for key, limit in limits.items():
            recent, oldest = (
                await db.execute(
                    select(func.count(), func.min(LoginAttempt.at)).where(
                        LoginAttempt.key == key, LoginAttempt.at > window_start
                    )
                )
            ).one()
            if recent >= limit:
                self._limited.remember(key, oldest + timedelta(minutes=1))
                raise TooManyRequests(TOO_MANY)
        # Old rows of these keys no longer count; dropping them keeps the table small.
        await db.execute(
            delete(LoginAttempt).where(
                LoginAttempt.key.in_(list(limits)), LoginAttempt.at <= window_start
            )
        )
        client_attempt = LoginAttempt(key=client_key, at=now)
        db.add_all([LoginAttempt(key=email_key, at=now), client_attempt])
        row = (
            await db.execute(
                select(Staff.id, Staff.active, Staff.password_hash).where(Staff.email == email)
            )
        ).first()
        await db.flush()
        usable = row is not None and row.active and row.password_hash is not None
        return ReservedAttempt(
            email=email,
            client_attempt_id=client_attempt.id,
            staff_id=row.id if row is not None else None,
            password_hash=row.password_hash if usable and row is not None else None,
        )

    async def complete_login(
        self, db: AsyncSession, reserved: ReservedAttempt, new_hash: str | None
    ) -> LoginResult:
        """After a good password: the email's failures are forgiven, and this attempt no longer
        counts against the client."""
        staff = await db.get(Staff, reserved.staff_id) if reserved.staff_id else None
        if staff is None or not staff.active:
            # Deactivated between the two transactions.
            raise Unauthorized("Wrong email or password.", code="bad_credentials", field="password")
        if new_hash is not None:
            staff.password_hash = new_hash
        staff.last_login_at = to_datetime(self.clock.now())
        self._limited.forget(f"email:{reserved.email}")
        await db.execute(
            delete(LoginAttempt).where(
                (LoginAttempt.key == f"email:{reserved.email}")
                | (LoginAttempt.id == reserved.client_attempt_id)
            )
        )
        return await self._open_session(
            db, program_id=staff.program_id, staff=staff, applicant=None, role=staff.role
        )

    async def _open_session(
        self,
        db: AsyncSession,
        *,
        program_id: str,
        staff: Staff | None,
        applicant: Applicant | None,
        role: str,
    ) -> LoginResult:
        now = to_datetime(self.clock.now())
        cookie_value = secrets.token_urlsafe(32)
        row = WebSession(
            id=session_key(cookie_value),
            program_id=program_id,
            staff_id=staff.id if staff else None,
            applicant_id=applicant.id if applicant else None,
            active_role=role,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + timedelta(hours=self.session_hours),
        )
        db.add(row)
        await db.flush()
        actor = await self._actor_for(db, row)
        assert actor is not None
        return LoginResult(cookie_value, row.csrf_token, actor)

    async def resolve(self, db: AsyncSession, cookie_value: str) -> ResolvedSession | None:
        """One query for the session and its person: this runs on every request."""
        row = (
            await db.execute(
                select(
                    WebSession.id,
                    WebSession.csrf_token,
                    WebSession.active_role,
                    WebSession.expires_at,
                    Staff.id.label("staff_id"),
                    Staff.program_id.label("staff_program_id"),
                    Staff.name.label("staff_name"),
                    Staff.role.label("staff_role"),
                    Staff.active.label("staff_active"),
                    Applicant.id.label("applicant_id"),
                    Applicant.program_id.label("applicant_program_id"),
                    Applicant.first_name,
                    Applicant.last_name,
                )
                .outerjoin(Staff, Staff.id == WebSession.staff_id)
                .outerjoin(Applicant, Applicant.id == WebSession.applicant_id)
                .where(WebSession.id == session_key(cookie_value))
            )
        ).first()
        if row is None or row.expires_at <= to_datetime(self.clock.now()):
            return None
        actor: Actor | None = None
        if row.staff_id is not None and row.staff_active:
            actor = Actor(
                kind="staff",
                id=row.staff_id,
                program_id=row.staff_program_id,
                name=row.staff_name,
                base_role=row.staff_role,
                role=row.active_role
                if can_switch(row.staff_role, row.active_role)
                else row.staff_role,
            )
        elif row.applicant_id is not None:
            actor = Actor(
                kind="applicant",
                id=row.applicant_id,
                program_id=row.applicant_program_id,
                name=f"{row.first_name} {row.last_name}".strip(),
            )
        if actor is None:
            return None
        return ResolvedSession(actor, row.id, row.csrf_token, row.expires_at)

    async def _actor_for(self, db: AsyncSession, row: WebSession) -> Actor | None:
        if row.staff_id is not None:
            staff = await db.get(Staff, row.staff_id)
            if staff is None or not staff.active:
                return None
            return Actor(
                kind="staff",
                id=staff.id,
                program_id=staff.program_id,
                name=staff.name,
                base_role=staff.role,
                role=row.active_role if can_switch(staff.role, row.active_role) else staff.role,
            )
        if row.applicant_id is not None:
            applicant = await db.get(Applicant, row.applicant_id)
            if applicant is None:
                return None
            return Actor(
                kind="applicant",
                id=applicant.id,
                program_id=applicant.program_id,
                name=applicant.display_name,
            )
        return None

    async def logout(self, db: AsyncSession, cookie_value: str) -> None:
        await db.execute(delete(WebSession).where(WebSession.id == session_key(cookie_value)))

    async def switch_role(self, db: AsyncSession, session_id: str, actor: Actor, role: str) -> None:
        if actor.base_role is None or not can_switch(actor.base_role, role):
            raise AppError(f"You cannot act as {role}.", field="role", code="role_not_allowed")
        await db.execute(
            update(WebSession).where(WebSession.id == session_id).values(active_role=role)
        )

    # Applicants' magic links -------------------------------------------------------------

    async def issue_magic_link(self, db: AsyncSession, applicant: Applicant) -> str:
        now = to_datetime(self.clock.now())
        link = MagicLink(
            program_id=applicant.program_id,
            applicant_id=applicant.id,
            expires_at=now + timedelta(days=self.magic_link_days),
        )
        db.add(link)
        await db.flush()
        return self.tokens.issue(MAGIC_LINK_PURPOSE, {"l": link.id})

    async def revoke_magic_links(self, db: AsyncSession, applicant: Applicant) -> int:
        now = to_datetime(self.clock.now())
        links = await db.scalars(
            select(MagicLink).where(
                MagicLink.applicant_id == applicant.id, MagicLink.revoked_at.is_(None)
            )
        )
        count = 0
        for link in links:
            link.revoked_at = now
            count += 1
        return count

    async def open_magic_link(self, db: AsyncSession, token: str) -> LoginResult:
        """Raises `TokenError` with reason `expired`, `invalid`, `wrong_purpose` or `revoked`."""
        max_age = self.magic_link_days * 86400
        payload = self.tokens.read(MAGIC_LINK_PURPOSE, token, max_age_seconds=max_age)
        link = await db.get(MagicLink, str(payload.get("l")))
        now = to_datetime(self.clock.now())
        if link is None:
            raise TokenError("invalid")
        if link.revoked_at is not None:
            raise TokenError("revoked")
        if link.expires_at <= now:
            raise TokenError("expired")
        applicant = await db.get(Applicant, link.applicant_id)
        if applicant is None:
            raise TokenError("invalid")
        link.last_used_at = now
        return await self._open_session(
            db, program_id=applicant.program_id, staff=None, applicant=applicant, role="applicant"
        )
