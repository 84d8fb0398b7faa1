"""Prometheus metrics, on a registry per app (no module-level state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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

    def render(self) -> bytes:
        return generate_latest(self.registry)
