"""A dependency that does not answer is a 503 with ``Retry-After``, not a 500.

When ClickHouse or Kafka is away (the store restarting, a broker moving)
the request was fine and nothing was written: the client should retry
shortly, as it does on any 503, and the operator should not read a stack
trace per request as a bug. Each dialect shapes the answer in its own error
format; this module only says which dependency failed.
"""

from __future__ import annotations

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable, RequestTimedOutError
from clickhouse_connect.driver.exceptions import OperationalError

RETRY_AFTER_S = 5
"""Seconds a client is told to wait: about what a supervised store or a broker's leader election takes."""


def unavailable_dependency(error: BaseException) -> str | None:
    """``"ClickHouse"`` or ``"Kafka"`` when ``error`` says that one did not answer; None for anything else."""
    if isinstance(error, OperationalError):  # clickhouse-connect's connection-level failure (not a query error)
        return "ClickHouse"
    if isinstance(error, KafkaConnectionError | KafkaTimeoutError | NoBrokersAvailable | RequestTimedOutError):
        return "Kafka"
    return None


def retry_after() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_S)}
