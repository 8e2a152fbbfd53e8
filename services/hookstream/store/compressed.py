"""ClickHouse's own compressed block stream, which a client asks for with ``compress=1``.

The official Java client (and so the JDBC driver, DBeaver, Metabase) asks
for it on every query by default and reads the answer through an LZ4 block
decoder that checks each block's checksum, so a plain body fails there. A
block is ``checksum (16) | method (1) | compressed size (4) | uncompressed
size (4) | LZ4 block``, both sizes little-endian and the first one counting
the 9-byte header; the checksum is CityHash128 v1.0.2 (the version ClickHouse
froze for checksums, not today's CityHash) of everything after it. No wheel
of that hash is in the dependencies, so it is written out here; it runs on
the compressed bytes only.
"""

from __future__ import annotations

import struct

import lz4.block

BLOCK_BYTES = 1 << 20  # ClickHouse's max_compress_block_size
LZ4_METHOD = 0x82
_HEADER = struct.Struct("<BII")

_M = (1 << 64) - 1
K0 = 0xC3A5C85C97CB3127
K1 = 0xB492B66FBE98F273
K2 = 0x9AE16A3B2F90404F
K3 = 0xC949D7C7509E6557
K_MUL = 0x9DDFEA08EB382D69


def _f64(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 8], "little")


def _f32(s: bytes, i: int) -> int:
    return int.from_bytes(s[i : i + 4], "little")


def _rot(v: int, shift: int) -> int:
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & _M


def _mix(v: int) -> int:
    return v ^ (v >> 47)


def _len16(u: int, v: int) -> int:
    a = ((u ^ v) * K_MUL) & _M
    a ^= a >> 47
    b = ((v ^ a) * K_MUL) & _M
    b ^= b >> 47
    return (b * K_MUL) & _M


def _len0to16(s: bytes, i: int, n: int) -> int:
    if n > 8:
        a, b = _f64(s, i), _f64(s, i + n - 8)
        return _len16(a, _rot((b + n) & _M, n)) ^ b
    if n >= 4:
        return _len16((n + (_f32(s, i) << 3)) & _M, _f32(s, i + n - 4))
    if n > 0:
        y = (s[i] + (s[i + (n >> 1)] << 8)) & 0xFFFFFFFF
        z = n + (s[i + n - 1] << 2)
        return (_mix(((y * K2) ^ (z * K3)) & _M) * K2) & _M
    return K2


def _weak32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    w, x, y, z = _f64(s, i), _f64(s, i + 8), _f64(s, i + 16), _f64(s, i + 24)
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def _murmur(s: bytes, i: int, n: int, a: int, b: int) -> tuple[int, int]:
    left = n - 16
    if left <= 0:
        a = (_mix((a * K1) & _M) * K1) & _M
        c = (b * K1 + _len0to16(s, i, n)) & _M
        d = _mix((a + (_f64(s, i) if n >= 8 else c)) & _M)
    else:
        c = _len16((_f64(s, i + n - 8) + K1) & _M, a)
        d = _len16((b + n) & _M, (c + _f64(s, i + n - 16)) & _M)
        a = (a + d) & _M
        while left > 0:
            a = ((a ^ ((_mix((_f64(s, i) * K1) & _M) * K1) & _M)) * K1) & _M
            b ^= a
            c = ((c ^ ((_mix((_f64(s, i + 8) * K1) & _M) * K1) & _M)) * K1) & _M
            d ^= c
            i += 16
            left -= 16
    a, b = _len16(a, c), _len16(d, b)
    return a ^ b, _len16(b, a)


def _with_seed(s: bytes, i: int, n: int, x: int, y: int) -> tuple[int, int]:
    if n < 128:
        return _murmur(s, i, n, x, y)
    z = (n * K1) & _M
    v0 = (_rot(y ^ K1, 49) * K1 + _f64(s, i)) & _M
    v1 = (_rot(v0, 42) * K1 + _f64(s, i + 8)) & _M
    w0 = (_rot((y + z) & _M, 35) * K1 + x) & _M
    w1 = (_rot((x + _f64(s, i + 88)) & _M, 53) * K1) & _M
    while n >= 128:
        for _ in range(2):
            x = (_rot((x + y + v0 + _f64(s, i + 16)) & _M, 37) * K1) & _M
            y = (_rot((y + v1 + _f64(s, i + 48)) & _M, 42) * K1) & _M
            x ^= w1
            y ^= v0
            z = _rot(z ^ w0, 33)
            v0, v1 = _weak32(s, i, (v1 * K1) & _M, (x + w0) & _M)
            w0, w1 = _weak32(s, i + 32, (z + w1) & _M, y)
            z, x = x, z
            i += 64
        n -= 128
    y = (y + _rot(w0, 37) * K0 + z) & _M
    x = (x + _rot((v0 + z) & _M, 49) * K0) & _M
    done = 0
    while done < n:
        done += 32
        y = (_rot((y - x) & _M, 42) * K0 + v1) & _M
        w0 = (w0 + _f64(s, i + n - done + 16)) & _M
        x = (_rot(x, 49) * K0 + w0) & _M
        w0 = (w0 + v0) & _M
        v0, v1 = _weak32(s, i + n - done, v0, v1)
    x, y = _len16(x, v0), _len16(y, w0)
    return (_len16((x + v1) & _M, w1) + y) & _M, _len16((x + w1) & _M, (y + v1) & _M)


def city_hash128(s: bytes) -> tuple[int, int]:
    """CityHash128 v1.0.2 of ``s`` as ClickHouse's (low, high) 64-bit halves."""
    n = len(s)
    if n >= 16:
        return _with_seed(s, 16, n - 16, _f64(s, 0) ^ K3, _f64(s, 8))
    if n >= 8:
        return _with_seed(b"", 0, 0, _f64(s, 0) ^ ((n * K0) & _M), _f64(s, n - 8) ^ K1)
    return _with_seed(s, 0, n, K0, K1)


def compress(data: bytes) -> bytes:
    """``data`` as ClickHouse's LZ4 compressed blocks, what it answers a ``compress=1`` request with."""
    blocks = []
    for start in range(0, len(data), BLOCK_BYTES):
        chunk = data[start : start + BLOCK_BYTES]
        packed = lz4.block.compress(chunk, store_size=False)
        body = _HEADER.pack(LZ4_METHOD, _HEADER.size + len(packed), len(chunk)) + packed
        low, high = city_hash128(body)
        blocks.append(struct.pack("<QQ", low, high) + body)
    return b"".join(blocks)
