"""Staff logins, server-side web sessions, the login rate limit and applicants' magic links."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, to_datetime
from core.errors import AppError, TooManyRequests, Unauthorized
from core.security import Passwords, TokenError, Tokens
from portal.models import Applicant, LoginAttempt, MagicLink, Staff, WebSession
from portal.permissions import Actor, can_switch

MAGIC_LINK_PURPOSE = "magic-link"


def session_key(cookie_value: str) -> str:
    # The database keeps a hash, so a leaked table does not hand out live sessions.
    return hashlib.sha256(cookie_value.encode()).hexdigest()


@dataclass(frozen=True)
class LoginResult:
    cookie_value: str
    csrf_token: str
    actor: Actor


@dataclass
class Auth:
    passwords: Passwords
    tokens: Tokens
    clock: Clock
    attempts_per_minute: int = 10
    session_hours: int = 12
    magic_link_days: int = 30

    async def login(self, db: AsyncSession, email: str, password: str, client: str) -> LoginResult:
        email = email.strip().lower()
        now = to_datetime(self.clock.now())
        window_start = now - timedelta(minutes=1)
        keys = (f"email:{email}", f"client:{client}")
        # One address gets few tries; one client (maybe a whole hospital behind NAT) more.
        limits = (self.attempts_per_minute, self.attempts_per_minute * 5)
        for key, limit in zip(keys, limits, strict=True):
            recent = await db.scalar(
                select(func.count())
                .select_from(LoginAttempt)
                .where(LoginAttempt.key == key, LoginAttempt.at > window_start)
            )
            if (recent or 0) >= limit:
                raise TooManyRequests("Too many failed attempts. Wait a minute and try again.")
        staff = await db.scalar(select(Staff).where(Staff.email == email))
        valid = (
            staff is not None
            and staff.active
            and staff.password_hash is not None
            and self.passwords.verify(staff.password_hash, password)
        )
        if not valid or staff is None:
            # Kept in a transaction of its own: the caller's rolls back with the error.
            async with AsyncSession(db.bind) as own, own.begin():
                own.add_all([LoginAttempt(key=key, at=now) for key in keys])
            raise Unauthorized("Wrong email or password.", code="bad_credentials", field="password")
        if staff.password_hash and self.passwords.needs_rehash(staff.password_hash):
            staff.password_hash = self.passwords.hash(password)
        staff.last_login_at = now
        await db.execute(delete(LoginAttempt).where(LoginAttempt.key == f"email:{email}"))
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

    async def resolve(self, db: AsyncSession, cookie_value: str) -> tuple[Actor, WebSession] | None:
        row = await db.get(WebSession, session_key(cookie_value))
        if row is None or row.expires_at <= to_datetime(self.clock.now()):
            return None
        actor = await self._actor_for(db, row)
        return None if actor is None else (actor, row)

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

    async def switch_role(
        self, db: AsyncSession, session: WebSession, actor: Actor, role: str
    ) -> None:
        if actor.base_role is None or not can_switch(actor.base_role, role):
            raise AppError(f"You cannot act as {role}.", field="role", code="role_not_allowed")
        session.active_role = role

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
