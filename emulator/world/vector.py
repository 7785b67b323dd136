"""`hashing.uuid_at` for many numbers at once, with numpy: the same ids, far cheaper per id.

An export row's correlation id or message GUID is two splitmix64 mixes and a hex format; computed for a
whole hour at once, a row takes its 36 characters out of one string with a slice (docs/performance.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import parallel

if TYPE_CHECKING:
    import numpy as np

UUID_CHARS = 36
_HEX_SPANS = ((0, 8, 0), (9, 13, 8), (14, 18, 12), (19, 23, 16), (24, 36, 20))  # (to, to_end, from) of 8-4-4-4-12


@parallel.before_forking  # imported once by the worker, not again by every rendering process
def _numpy():
    """numpy, imported on first use: a tenth of a second that start-up (target: under 1 s) need not pay."""
    import numpy

    return numpy


def _mix(x: np.ndarray) -> np.ndarray:
    """hashing.mix on uint64 arrays (numpy wraps modulo 2**64 as the masks do)."""
    _U = _numpy().uint64
    x = x + _U(0x9E3779B97F4A7C15)
    x = (x ^ (x >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U(27))) * _U(0x94D049BB133111EB)
    return x ^ (x >> _U(31))


CHUNK = 4096  # keys per numpy pass: its temporaries (about 300 bytes a key) stay small


def uuids(keys: np.ndarray, dashes: bool = True) -> str:
    """uuid_at(base, n) for each `base ^ n` in `keys` (uint64), concatenated: id i is [36 i, 36 i + 36)
    (without dashes: the 32 hex digits, [32 i, 32 i + 32))."""
    if len(keys) <= CHUNK:
        return _uuids(keys, dashes)
    return "".join(_uuids(keys[at:at + CHUNK], dashes) for at in range(0, len(keys), CHUNK))


def _uuids(keys: np.ndarray, dashes: bool) -> str:
    np = _numpy()
    _U = np.uint64
    count = len(keys)
    hi = _mix(keys)
    lo = _mix(hi ^ _U(0x14057B7EF767814F))
    words = np.empty((count, 2), dtype=">u8")  # big-endian: hex digits in uuid_at's order
    words[:, 0] = (hi & _U(0xFFFFFFFFFFFF0FFF)) | _U(0x4000)
    words[:, 1] = (lo & _U(0x3FFFFFFFFFFFFFFF)) | _U(0x8000000000000000)
    if not dashes:
        return words.tobytes().hex()
    digits = np.frombuffer(words.tobytes().hex().encode(), np.uint8).reshape(count, 32)
    out = np.full((count, UUID_CHARS), ord("-"), np.uint8)
    for to, to_end, src in _HEX_SPANS:
        out[:, to:to_end] = digits[:, src:src + to_end - to]
    return out.tobytes().decode("ascii")


def uuid_range(base: int, first: int, count: int) -> str:
    """uuid_at(base, n) for n = first .. first + count - 1, concatenated."""
    np = _numpy()
    return uuids(np.arange(first, first + count, dtype=np.uint64) ^ np.uint64(base & 0xFFFFFFFFFFFFFFFF))


def audience_rolls(size: int, a: int, b: int, offset: int, lo: int, hi: int, segment_base: int, segment_share: int,
                   outcome_base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, recipients, send outcome rolls) of a message's audience positions lo..hi-1 that its
    segment keeps (when segment_base: mix(segment_base ^ r) % 1000 < segment_share), the roll being
    mix(outcome_base ^ r) % 10_000: World.audience and World.send_outcome's roll on uint64 arrays."""
    np = _numpy()
    _U = np.uint64
    pos = np.arange(lo, hi, dtype=np.uint64)
    r = ((_U(offset) + pos) % _U(size) * _U(a) + _U(b)) % _U(size)  # < size**2: exact below 2**64
    if segment_base:
        kept = _mix(r ^ _U(segment_base & 0xFFFFFFFFFFFFFFFF)) % _U(1000) < _U(segment_share)
        pos, r = pos[kept], r[kept]
    return pos, r, _mix(r ^ _U(outcome_base & 0xFFFFFFFFFFFFFFFF)) % _U(10_000)
