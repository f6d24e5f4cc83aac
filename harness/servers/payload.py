"""Deterministic test payloads and their hashes.

SHAKE-256 is an extendable-output hash implemented in C: one call yields any length at
hundreds of MB/s, and payload(n, seed) is a prefix of payload(m, seed) for n < m, so a
receiver that got only part of a transfer can still check what it got.
"""

from __future__ import annotations

import hashlib


def payload(size: int, seed: int = 0) -> bytes:
    """`size` pseudo-random bytes, the same for the same (size, seed) on every machine."""
    if size < 0:
        raise ValueError(f"payload size must be >= 0, got {size}")
    if size == 0:
        return b""
    return hashlib.shake_256(b"w24-harness payload seed=%d" % seed).digest(size)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
