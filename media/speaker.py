"""Who is speaking in a room, from the audio level every publisher puts on its packets (pure).

Browsers send the RFC 6464 audio level (-dBov: 0 loudest, 127 silence) on every Opus packet;
the SFU notes when each source was last loud (`Source.loud_at`). The dominant speaker changes
only when the current one has been quiet for `QUIET_S` and someone else has been speaking for
`MIN_SPEECH_S`: a cough or a short "mm" does not take the stage, and two people talking over
each other do not make it flicker.
"""

from __future__ import annotations

from collections.abc import Mapping

SPEAKING_LEVEL = 50
"""A packet at or below this level (-dBov) is speech; room noise sits well above it."""
HANG_S = 0.35
"""Speech pauses between words: this long without a loud packet still counts as speaking."""
MIN_SPEECH_S = 0.2
QUIET_S = 0.4


class SpeakerTracker:
    """One room's dominant speaker; `update` once per control tick."""

    __slots__ = ("_since", "dominant", "last_spoke")

    def __init__(self) -> None:
        self.dominant: str | None = None
        self._since: dict[str, float] = {}
        self.last_spoke: dict[str, float] = {}
        """Participant -> when it was last heard speaking (who to keep on screen)."""

    def update(self, now: float, loud_at: Mapping[str, float]) -> bool:
        """Fold in each member's last loud packet time; True if the dominant speaker changed."""
        speaking = {pid for pid, at in loud_at.items() if now - at <= HANG_S}
        for pid in speaking:
            self._since.setdefault(pid, loud_at[pid])
            self.last_spoke[pid] = loud_at[pid]
        for pid in list(self._since):
            if pid not in speaking:
                del self._since[pid]
        for pid in list(self.last_spoke):
            if pid not in loud_at:
                del self.last_spoke[pid]  # left the room
        current = self.dominant
        if current is not None and current not in loud_at:
            current = None
        if current is not None and now - loud_at[current] < QUIET_S:
            return False
        candidates = [
            (start, pid)
            for pid, start in self._since.items()
            if pid != current and loud_at[pid] - start >= MIN_SPEECH_S
        ]
        if not candidates:
            if current != self.dominant:
                self.dominant = current
                return True
            return False
        self.dominant = min(candidates)[1]  # the one who has been speaking longest
        return True
