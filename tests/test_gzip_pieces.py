"""Pieces compressed apart join into one gzip member whose CRC is combined, not recomputed."""

from __future__ import annotations

import os
import random
import zlib

from exporter import gzip_pieces


def test_joined_pieces_are_one_valid_gzip_member() -> None:
    rng = random.Random(9)
    datas = [os.urandom(rng.randint(0, 3000)) + b"sample 1.0\n" * rng.randint(0, 20000) for _ in range(25)]
    datas.insert(3, b"")
    body = b"".join(gzip_pieces.join(gzip_pieces.compress(d) for d in datas))
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)  # checks the CRC-32 and length in the trailer
    assert decoder.decompress(body) == b"".join(datas)
    assert decoder.eof and decoder.unused_data == b""


def test_crc32_combine_matches_zlib() -> None:
    rng = random.Random(3)
    for _ in range(50):
        a, b = os.urandom(rng.randint(0, 5000)), os.urandom(rng.randint(0, 200_000))
        assert gzip_pieces.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)
