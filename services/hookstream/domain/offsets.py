"""Which offsets a concurrent consumer may commit without losing a record.

Records of one partition finish out of order when they are handled
concurrently (a slow endpoint next to a fast one). Committing the highest
finished offset would skip the slow one if the process died before it was
done; committing nothing until a batch is complete would stall behind one
slow record. The safe point is the lowest offset still unfinished: a crash
then re-delivers that record and everything after it (at-least-once), and
never loses one.

Offsets need not be contiguous (transaction markers, compaction, records
dead-lettered before handling): the tracker only knows the offsets it was
told about, so a gap is simply never waited for.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)


@dataclass(slots=True)
class _Partition:
    pending: set[int] = field(default_factory=set)
    heap: list[int] = field(default_factory=list)  # pending offsets, lazily pruned on read
    highest: int = -1  # highest offset ever started

    def lowest_pending(self) -> int | None:
        while self.heap and self.heap[0] not in self.pending:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None


class OffsetTracker(Generic[P]):
    """Per-partition bookkeeping of started and finished offsets; pure, no clock, no I/O.

    ``P`` is whatever names a partition for the caller (an int, or an aiokafka
    ``TopicPartition`` when one consumer reads several topics).
    """

    def __init__(self) -> None:
        self._partitions: dict[P, _Partition] = {}

    def started(self, partition: P, offset: int) -> None:
        """Record handed over for handling; it holds the commit point back until finished.

        Offsets must be started in increasing order per partition (the order a
        consumer reads them): an older offset arriving after a newer one means a
        seek or a rebalance that the caller should have announced with ``forget``.
        """
        if offset < 0:
            raise ValueError(f"offsets are non-negative, got {offset}")
        state = self._partitions.setdefault(partition, _Partition())
        if offset <= state.highest:
            raise ValueError(
                f"offset {offset} of {partition!r} started after {state.highest}; forget() the partition first"
            )
        state.highest = offset
        state.pending.add(offset)
        heapq.heappush(state.heap, offset)

    def finished(self, partition: P, offset: int) -> None:
        """Record done (its result is durable); unknown offsets are a caller bug and raise."""
        state = self._partitions.get(partition)
        if state is None or offset not in state.pending:
            raise KeyError(f"offset {offset} of {partition!r} was not started or already finished")
        state.pending.discard(offset)

    def committable(self) -> dict[P, int]:
        """Next offset to commit per partition: the lowest unfinished one, or one past the last started.

        Partitions that never started anything are absent: there is nothing
        to say about them, and committing a guess could skip records.
        """
        result: dict[P, int] = {}
        for partition, state in self._partitions.items():
            lowest = state.lowest_pending()
            result[partition] = lowest if lowest is not None else state.highest + 1
        return result

    def pending(self, partition: P | None = None) -> int:
        """Started and not yet finished, in one partition or in all of them."""
        if partition is not None:
            state = self._partitions.get(partition)
            return len(state.pending) if state else 0
        return sum(len(state.pending) for state in self._partitions.values())

    def forget(self, partition: P) -> None:
        """Drop a partition (revoked in a rebalance): another consumer owns its position now."""
        self._partitions.pop(partition, None)

    def partitions(self) -> list[P]:
        return list(self._partitions)
