"""The producer's partitioner picks exactly what aiokafka's default (Java's murmur2) picks, key by key."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from hookstream.log.producer import partition_of


def test_same_partition_as_the_default_for_every_key_and_partition_count() -> None:
    default = DefaultPartitioner()
    keys = [str(uuid.uuid4()).encode() for _ in range(300)] + [b"", b"a", b"\xff" * 7]
    for count in (1, 3, 12, 64):
        partitions = list(range(count))
        for key in keys * 2:  # the second round answers from the remembered hashes
            assert partition_of(key, partitions, partitions) == default(key, partitions, partitions)


def test_without_a_key_a_partition_is_chosen_among_the_available() -> None:
    assert {partition_of(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert partition_of(bytearray(b"k"), [0, 1, 2], [0, 1, 2]) == DefaultPartitioner()(b"k", [0, 1, 2], [0, 1, 2])
