"""Who is connected where, with what media state; what the console and the rooms are shown."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from signaling.grants import JoinGrant

# Above these a tile shows the quality icon (UX: only when quality drops).
DEGRADED_LOSS = 0.03
BAD_LOSS = 0.10
DEGRADED_RTT_S = 0.3
BAD_RTT_S = 0.8


@dataclass(frozen=True)
class Member:
    grant: JoinGrant
    room_key: str
    room_name: str
    sid: str | None = None
    connected: bool = False
    audio: bool = True
    video: bool = True
    screen: bool = False
    hand: bool = False
    quality: str = "good"
    downlink: str = "full"
    """What congestion control sends this member: "full", "reduced" or "audio_only"."""
    last_seen: float = 0.0
    observer: bool = False

    @property
    def participant_id(self) -> str:
        return self.grant.participant_id

    def public(self) -> dict[str, object]:
        """What other people in the room may know about this member."""
        return {
            "participant_id": self.participant_id,
            "name": self.grant.name,
            "role": self.grant.role,
            "audio": self.audio,
            "video": self.video,
            "screen": self.screen,
            "hand": self.hand,
            "quality": self.quality,
            "downlink": self.downlink,
            "connected": self.connected,
            "observer": self.observer,
        }


def quality_of(loss: float, rtt_s: float | None, state: str) -> str:
    """`good`, `degraded` or `bad` from loss and round-trip time (pure)."""
    if state in ("failed", "closed"):
        return "bad"
    rtt = rtt_s or 0.0
    if loss >= BAD_LOSS or rtt >= BAD_RTT_S:
        return "bad"
    if loss >= DEGRADED_LOSS or rtt >= DEGRADED_RTT_S:
        return "degraded"
    return "good"


@dataclass
class Presence:
    """The members of every scope on this node. Only the hub changes it."""

    members: dict[str, Member] = field(default_factory=dict)
    by_sid: dict[str, str] = field(default_factory=dict)

    def get(self, participant_id: str) -> Member | None:
        return self.members.get(participant_id)

    def by_socket(self, sid: str) -> Member | None:
        participant_id = self.by_sid.get(sid)
        return self.members.get(participant_id) if participant_id else None

    def put(self, member: Member) -> Member:
        old = self.members.get(member.participant_id)
        if old is not None and old.sid and old.sid != member.sid:
            self.by_sid.pop(old.sid, None)
        self.members[member.participant_id] = member
        if member.sid:
            self.by_sid[member.sid] = member.participant_id
        return member

    def update(self, participant_id: str, **changes: object) -> Member:
        member = replace(self.members[participant_id], **changes)  # type: ignore[arg-type]
        return self.put(member)

    def drop_socket(self, sid: str) -> Member | None:
        participant_id = self.by_sid.pop(sid, None)
        if participant_id is None:
            return None
        member = self.members.get(participant_id)
        if member is None or member.sid != sid:
            return None
        return self.put(replace(member, sid=None, connected=False))

    def in_room(self, room_key: str) -> list[Member]:
        return [m for m in self.members.values() if m.room_key == room_key and m.connected]

    def in_scope(self, scope: str) -> list[Member]:
        return [m for m in self.members.values() if m.grant.scope == scope]
