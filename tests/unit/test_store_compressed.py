"""ClickHouse's compressed block stream, as the official Java client checks and inflates it."""

from __future__ import annotations

import struct

import lz4.block
import pytest

from hookstream.store.compressed import BLOCK_BYTES, LZ4_METHOD, city_hash128, compress

# CityHash128 v1.0.2 of bytes i % 251, as the ClickHouse Java client's own implementation computes it.
REFERENCE = [
    (0, 0x3DF09DFC64C09A2B, 0x3CB540C392E51E29),
    (5, 0xC04E19B992BE3D5E, 0xD9F575AA43CA0102),
    (12, 0x182760380E12873F, 0x89A96C2B71930CC2),
    (16, 0x17CEADE677C2F945, 0x579ED60675C8FEDC),
    (100, 0x836AD9510A7189D4, 0x92D5FDF90B6D0EF9),
    (128, 0x7DEF035B54925590, 0xDE34765C4ACA9038),
    (300, 0xE6A6CF3BC9A1C22A, 0x250AD27CB618CCE7),
    (1000, 0x44377C873C240F45, 0x9DA1D106CA1C225D),
]


@pytest.mark.parametrize(("length", "low", "high"), REFERENCE)
def test_the_checksum_is_clickhouses_cityhash128(length: int, low: int, high: int) -> None:
    assert city_hash128(bytes(i % 251 for i in range(length))) == (low, high)


def _blocks(stream: bytes) -> list[bytes]:
    """Read the stream as the Java client does: check each block's checksum, then inflate it."""
    chunks, at = [], 0
    while at < len(stream):
        low, high = struct.unpack_from("<QQ", stream, at)
        method, size, raw = struct.unpack_from("<BII", stream, at + 16)
        body = stream[at + 16 : at + 16 + size]
        assert method == LZ4_METHOD and city_hash128(body) == (low, high)
        chunks.append(lz4.block.decompress(body[9:], uncompressed_size=raw))
        at += 16 + size
    return chunks


def test_an_answer_is_split_into_blocks_that_check_and_inflate() -> None:
    data = b"".join(b"row %d\tvalue\n" % i for i in range(200_000))
    chunks = _blocks(compress(data))
    assert b"".join(chunks) == data
    assert len(chunks) == -(-len(data) // BLOCK_BYTES) and all(len(c) == BLOCK_BYTES for c in chunks[:-1])
    assert compress(b"") == b""
