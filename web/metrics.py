"""Prometheus metrics, on a registry per app (no module-level state)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from media.stats import ParticipantStats


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "interviewday_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "interviewday_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.logins = Counter(
            "interviewday_logins_total",
            "Login attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.participants = Gauge(
            "interviewday_media_participants",
            "Connected media participants",
            registry=self.registry,
        )

        self.sessions_owned = Gauge(
            "interviewday_cluster_scopes_owned",
            "Sessions and meeting rooms this node owns (runs the day of, holds the media of)",
            registry=self.registry,
        )
        self.cluster_participants = Gauge(
            "interviewday_cluster_participants",
            "Participants connected to this node's media server",
            registry=self.registry,
        )
        self.day_runners = Gauge(
            "interviewday_day_runners",
            "Interview days whose clock ticks on this node (across nodes, one per session)",
            registry=self.registry,
        )
        self.lease_events = Counter(
            "interviewday_cluster_lease_events_total",
            "Ownership changes on this node: acquired, stolen (take-overs of a dead node's "
            "scope), lost, handed_over (drain), released",
            ["event"],
            registry=self.registry,
        )

        media_labels = ["participant", "room"]
        self.bitrate_in = Gauge(
            "interviewday_media_bitrate_in_bps",
            "Publisher -> SFU bitrate",
            media_labels,
            registry=self.registry,
        )
        self.bitrate_out = Gauge(
            "interviewday_media_bitrate_out_bps",
            "SFU -> participant bitrate",
            media_labels,
            registry=self.registry,
        )
        self.loss = Gauge(
            "interviewday_media_packet_loss_ratio",
            "Packet loss towards or from the participant (the worse)",
            media_labels,
            registry=self.registry,
        )
        self.rtt = Gauge(
            "interviewday_media_round_trip_seconds",
            "SFU <-> participant RTT",
            media_labels,
            registry=self.registry,
        )
        self.frames_out = Gauge(
            "interviewday_media_frames_forwarded",
            "Frames forwarded to the participant (lifetime)",
            media_labels,
            registry=self.registry,
        )
        self._media_seen: set[tuple[str, str]] = set()

    def lease_event(self, event: str) -> None:
        self.lease_events.labels(event=event).inc()

    def observe_cluster(self, owned: int, participants: int) -> None:
        self.sessions_owned.set(owned)
        self.cluster_participants.set(participants)

    def observe_media(self, stats: Mapping[str, ParticipantStats]) -> None:
        """Per-participant media gauges; participants who left are removed."""
        seen = set()
        for pid, item in stats.items():
            labels = (pid, item.room_id)
            seen.add(labels)
            self.bitrate_in.labels(*labels).set(item.bitrate_in_bps)
            self.bitrate_out.labels(*labels).set(item.bitrate_out_bps)
            self.loss.labels(*labels).set(max(item.packet_loss_in, item.packet_loss_out))
            self.rtt.labels(*labels).set(item.round_trip_time_s or 0.0)
            self.frames_out.labels(*labels).set(item.frames_out)
        for labels in self._media_seen - seen:
            for gauge in (self.bitrate_in, self.bitrate_out, self.loss, self.rtt, self.frames_out):
                gauge.remove(*labels)
        self._media_seen = seen
        self.participants.set(len(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)
