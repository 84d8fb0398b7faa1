"""Join grants: what a short-lived signed join token allows.

One identity, one role, one session (or meeting room).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from core.security import TokenError, Tokens

JOIN_PURPOSE = "join"
JOIN_TOKEN_SECONDS = 10 * 60

Role = Literal["applicant", "interviewer", "coordinator", "observer", "participant"]


@dataclass(frozen=True)
class JoinGrant:
    """`scope` is the session id or `meeting:<id>`: every room of a grant lies inside it."""

    person_kind: Literal["staff", "applicant"]
    person_id: str
    name: str
    role: Role
    program_id: str
    scope: str
    room_key: str
    room_name: str

    @property
    def participant_id(self) -> str:
        return f"{self.scope}/{self.person_kind}:{self.person_id}"


def issue_join_token(tokens: Tokens, grant: JoinGrant) -> str:
    return tokens.issue(JOIN_PURPOSE, {"g": asdict(grant)})


def read_join_token(tokens: Tokens, token: str) -> JoinGrant:
    """Raises TokenError (`expired`, `invalid`, `wrong_purpose`)."""
    data = tokens.read(JOIN_PURPOSE, token, max_age_seconds=JOIN_TOKEN_SECONDS)
    raw = data.get("g")
    if not isinstance(raw, dict):
        raise TokenError("invalid")
    try:
        return JoinGrant(**raw)
    except TypeError:
        raise TokenError("invalid") from None
