"""The fast murmur2 partitions every key exactly as aiokafka's (and so Kafka's Java client) does."""

from __future__ import annotations

import os
import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as reference

from hookstream.log.partitioner import murmur2
from hookstream.log.producer import partition_of


def test_the_hash_matches_aiokafka_for_every_length_and_tail() -> None:
    rng = random.Random(17)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", b"\xff" * 7, os.urandom(73)]
    keys += [rng.randbytes(rng.randrange(0, 200)) for _ in range(2000)]
    for key in keys:
        assert murmur2(key) == reference(key), key


def test_a_key_goes_to_the_partition_the_default_partitioner_picks() -> None:
    partitions = list(range(12))
    for index in range(500):
        key = f"0190f0e2-0000-7000-8000-{index:012d}:0190f0e2-0000-7000-8000-{index * 7:012d}".encode()
        assert partition_of(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert partition_of(None, [0, 1, 2], [2]) == 2
    assert partition_of(None, [0, 1, 2], []) in (0, 1, 2)
