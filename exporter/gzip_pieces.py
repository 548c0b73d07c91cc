"""One gzip stream joined from pieces compressed separately, so a change recompresses only what changed.

Each piece is raw deflate ended by a sync flush: it starts from an empty
dictionary and ends on a byte boundary, so pieces can follow each other in any
order in one deflate stream. The gzip trailer's CRC-32 of the whole body is
combined from the pieces' CRCs (zlib's crc32_combine) without reading the data
again. The result is a single gzip member, which every client decodes (some,
such as httpx, stop after the first member of a multi-member file).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

LEVEL = 6
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no flags, mtime 0, unknown OS
_FINAL_BLOCK = b"\x03\x00"  # an empty final block with fixed Huffman codes
_POLY = 0xEDB88320


@dataclass(frozen=True, slots=True)
class Piece:
    """Raw deflate of `length` bytes whose CRC-32 is `crc`; `shift` is x^(8 * length) mod the CRC polynomial."""

    deflated: bytes
    crc: int
    length: int
    shift: int


def compress(data: bytes, level: int = LEVEL) -> Piece:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return Piece(deflated, zlib.crc32(data), len(data), _x8nmodp(len(data)))


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the CRC-32 polynomial (bit-reversed), as zlib's multmodp."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _x2n_table() -> list[int]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return table


_X2N = _x2n_table()


def _x8nmodp(length: int) -> int:
    """x^(8 * length) modulo the CRC-32 polynomial: what appending `length` bytes does to a CRC."""
    p = 1 << 31  # x^0
    k = 3  # 2^3 bits per byte
    while length:
        if length & 1:
            p = _multmodp(_X2N[k & 31], p)
        length >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of A+B from CRC-32(A), CRC-32(B) and len(B)."""
    return _multmodp(_x8nmodp(length2), crc1) ^ crc2


def join(pieces: Iterable[Piece]) -> list[bytes]:
    """A complete gzip member, as a list of byte strings to send one after the other."""
    out = [_HEADER]
    crc = 0
    length = 0
    for piece in pieces:
        out.append(piece.deflated)
        crc = _multmodp(piece.shift, crc) ^ piece.crc if length else piece.crc
        length += piece.length
    out.append(_FINAL_BLOCK + struct.pack("<II", crc, length & 0xFFFFFFFF))
    return out
