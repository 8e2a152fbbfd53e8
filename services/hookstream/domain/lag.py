"""How far behind each consumer group is: the figure an operator scales a role on.

A partition's lag is the records between the group's committed offset and
the log's end. A partition the group has never committed on is behind by
everything the log still holds (the groups start from the earliest record),
so its lag counts from the log's start offset, not from zero: records
removed by retention are not work left.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

P = TypeVar("P", bound=Hashable)


def partition_lag(committed: Mapping[P, int], starts: Mapping[P, int], ends: Mapping[P, int]) -> dict[P, int]:
    """Lag of every partition in ``ends``; ``committed`` may lack partitions (or hold -1) never committed on."""
    lag = {}
    for partition, end in ends.items():
        position = committed.get(partition, -1)
        if position < 0:
            position = starts.get(partition, 0)
        lag[partition] = max(0, end - max(position, starts.get(partition, 0)))
    return lag
