"""Fast deterministic integer hashing (splitmix64), for per-entity choices without an RNG object."""

from __future__ import annotations

import struct

MASK = _MASK = 0xFFFFFFFFFFFFFFFF
_TWO_U64 = struct.Struct(">QQ").pack


def mix(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit value from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def h(*parts: int) -> int:
    """Hash a tuple of integers to 64 bits."""
    acc = 0x243F6A8885A308D3
    for part in parts:
        acc = mix(acc ^ (part & _MASK))
    return acc


def text_id(text: str) -> int:
    """A stable integer for a string (Python's hash() is salted per process, this is not)."""
    acc = 0xCBF29CE484222325
    for byte in text.encode():
        acc = ((acc ^ byte) * 0x100000001B3) & _MASK
    return acc


def uuid_from(*parts: int) -> str:
    """A version-4-shaped UUID string derived from integers."""
    hi, lo = h(*parts, 1), h(*parts, 2)
    hi = (hi & ~(0xF << 12)) | (0x4 << 12)
    lo = (lo & ~(0x3 << 62)) | (0x2 << 62)
    s = f"{hi:016x}{lo:016x}"
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


def uuid_at(base: int, n: int) -> str:
    """The n-th UUID of a family whose base is an `h(...)` value: two mixes, for per-row ids.

    Cheaper than `uuid_from` with four parts: export rows need one id each."""
    hi = mix(base ^ n)
    lo = mix(hi ^ 0x14057B7EF767814F)
    # struct + bytes.hex instead of f"{hi:016x}{lo:016x}": the cheaper formatting (same text).
    s = _TWO_U64(hi & 0xFFFFFFFFFFFF0FFF | 0x4000, lo & 0x3FFFFFFFFFFFFFFF | 0x8000000000000000).hex()
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_PAIRS36 = tuple(_DIGITS36[r % 36] + _DIGITS36[r // 36] for r in range(36 * 36))  # two digits, low first


def alnum(value: int, length: int) -> str:
    """Lower-case base-36 string of fixed length, least significant digit first (APSIS discriminator
    suffixes look like this). Two digits per divmod: every recipient's profile key is one."""
    out = []
    for _ in range(length // 2):
        value, rem = divmod(value, 1296)
        out.append(_PAIRS36[rem])
    if length % 2:
        out.append(_DIGITS36[value % 36])
    return "".join(out)
