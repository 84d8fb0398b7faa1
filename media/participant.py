"""What the SFU keeps per participant: its connection, sources, slot pairs and controls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection

from . import fastpath
from .control import DownlinkControl
from .forwarder import OutSlot, Source


@dataclass(eq=False)
class Participant:
    id: str
    pc: RTCPeerConnection
    room_id: str
    downlink: fastpath.Downlink
    sources: dict[str, Source]
    pairs: list[tuple[OutSlot | None, OutSlot | None]]
    shown: list[str | None]
    state: str = "new"
    sample: tuple[float, int, int] = (0.0, 0, 0)
    rates: tuple[float, float] = (0.0, 0.0)
    receivers: list[Any] = field(default_factory=list)
    cname: str = ""
    hidden: bool = False
    """Receives the room but is never shown in anyone's slots (an observer)."""
    control: DownlinkControl | None = None
    answer_sdp: str = ""
    receiver_core: fastpath.ReceiverCore | None = None
    transport_cc: bool = False
    """It publishes with transport-wide sequence numbers: the SFU sends it feedback."""
    _feedback_ssrcs: tuple[int, int] | None = None

    def slots(self) -> list[OutSlot]:
        return [s for pair in self.pairs for s in pair if s is not None]

    def layout(self) -> dict[str, str | None]:
        result: dict[str, str | None] = {}
        for pair, source_id in zip(self.pairs, self.shown, strict=True):
            for slot in pair:
                if slot is not None:
                    result[slot.mid] = source_id
        return result

    def feedback_ssrcs(self) -> tuple[int, int]:
        """(sender, media) SSRC for transport-cc feedback: one of ours, one of theirs (the
        feedback is about the whole transport; receivers read neither). Kept once known."""
        if self._feedback_ssrcs is not None:
            return self._feedback_ssrcs
        slots = self.slots()
        media = next((s.media_ssrc for s in self.sources.values() if s.media_ssrc), None)
        ssrcs = (slots[0].ssrc if slots else 1, media or 0)
        if media is not None:
            self._feedback_ssrcs = ssrcs
        return ssrcs
