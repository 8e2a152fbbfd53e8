"""The status processor's counters, registered on the process's registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter


@dataclass
class StatusMetrics:
    registry: CollectorRegistry
    statuses: Counter = field(init=False)
    operational: Counter = field(init=False)
    pruned: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.statuses = Counter(
            "hookstream_status_updates_total", "Status records written, by record type", ["record"],
            registry=self.registry,
        )  # fmt: skip
        self.operational = Counter(
            "hookstream_operational_events_total", "Operational events written, by type", ["type"],
            registry=self.registry,
        )  # fmt: skip
        self.pruned = Counter(
            "hookstream_status_pruned_total", "Messages whose final status was forgotten after the retention",
            registry=self.registry,
        )  # fmt: skip
