"""What the SFU reports about one participant (uplink and downlink together)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParticipantStats:
    participant_id: str
    room_id: str
    connection_state: str
    bitrate_in_bps: float
    """Publisher -> SFU, all kinds, averaged over the last second or so."""
    bitrate_out_bps: float
    """SFU -> this participant, all slots."""
    packets_in: int
    packets_out: int
    bytes_in: int
    bytes_out: int
    frames_in: int
    """Frames published (video frames + 20 ms audio packets)."""
    frames_out: int
    """Frames forwarded to this participant."""
    packet_loss_in: float
    """Fraction of the publisher's packets that never reached the SFU (lifetime)."""
    packet_loss_out: float
    """Fraction lost towards this participant, from its latest receiver reports (mean)."""
    round_trip_time_s: float | None
    """Smoothed SFU <-> participant round-trip time from RTCP, when known."""
    keyframes_requested: int
    """PLIs sent to this participant's publisher."""
    packets_dropped: int
    """Packets not sent to this participant (blocked socket, not yet connected)."""
    downlink_state: str = "full"
    """"full", "reduced" (some video at a lower layer) or "audio_only" (its link is too weak
    for any video): congestion control's decision for this participant's downlink."""
    downlink_estimate_bps: float = 0.0
    """What congestion control estimates this participant's downlink carries."""
    video_layers: dict[str, int] | None = None
    """Video slot mid -> the simulcast layer it forwards (0 lowest; -1 paused)."""
    layers_in: int = 1
    """Simulcast layers this participant publishes (1: no simulcast)."""


def rate_bps(bytes_now: int, bytes_before: int, seconds: float) -> float:
    """Bits per second between two byte counters; 0 for an empty interval."""
    if seconds <= 0:
        return 0.0
    return max(0, bytes_now - bytes_before) * 8 / seconds
