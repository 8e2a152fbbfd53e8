"""Prometheus metrics of the delivery worker, registered on the process's registry.

Kept beside the worker rather than in ``foundation/ops.py``: the worker owns
what it measures, and ``runtime`` only passes the registry in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Receivers answer in milliseconds to the full timeout (default 15 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)


@dataclass
class DeliveryMetrics:
    """``outcome`` is ``success`` or the attempt's error class, so a dashboard splits failures by cause."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.attempts = Counter(
            "hookstream_delivery_attempts_total", "Delivery attempts recorded, by outcome",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "hookstream_delivery_attempt_seconds", "Request start to response end (or failure) of an attempt",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.lag = Histogram(
            "hookstream_delivery_start_lag_seconds", "Task due to request start: how far behind the worker runs",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.throttled = Histogram(
            "hookstream_delivery_throttle_wait_seconds", "How long a task waited for its endpoint's rate limit",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.in_flight = Gauge("hookstream_delivery_in_flight", "Requests being sent right now", registry=self.registry)
        self.buffered = Gauge(
            "hookstream_delivery_buffered_tasks", "Tasks read from the log and not yet committed",
            registry=self.registry,
        )  # fmt: skip
        self.skipped = Counter(
            "hookstream_delivery_skipped_total", "Tasks not attempted, by reason",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.publish_retries = Counter(
            "hookstream_delivery_publish_retries_total", "Attempt records whose produce failed and was retried",
            registry=self.registry,
        )  # fmt: skip
