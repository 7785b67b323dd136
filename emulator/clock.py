"""Virtual clock: real time plus an offset kept in the store, so every worker reads the same time.

Every lifecycle rule (export ready or expired, token expiry, rate windows) reads `now()`; tests and
users move the clock through the control API instead of sleeping.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from .store import Store

_OFFSET_KEY = "clock_offset"

# The virtual clock's range. The upper end leaves a year below datetime's year 9999, so that what a vendor
# derives from "now" (a time zone's local day, expiry instants, a three-month window) stays a valid date.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)
RANGE_TEXT = f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ} to {LATEST:%Y-%m-%dT%H:%M:%SZ}"


class ClockRangeError(ValueError):
    """A clock change that would leave the clock's range, or is not a finite number."""


class Clock:
    def __init__(self, store: Store, real_time=time.time):
        self._store = store
        self._real_time = real_time

    def offset(self) -> float:
        try:
            value = float(self._store.get(_OFFSET_KEY, 0.0))
        except (TypeError, ValueError):
            return 0.0
        # A state directory written before the range check may hold NaN or a huge offset: ignore it.
        return value if math.isfinite(value) and abs(value) < LATEST.timestamp() else 0.0

    def now(self) -> float:
        """Virtual time in seconds since the Unix epoch."""
        return self._real_time() + self.offset()

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        """Move the clock forward, atomically: advances from many workers at once all count."""
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ClockRangeError("the clock only moves forward: 'advance' must be a finite number >= 0")
        real = self._real_time()
        if self._store.add(_OFFSET_KEY, seconds, EARLIEST.timestamp() - real, LATEST.timestamp() - real) is None:
            raise ClockRangeError(f"advancing by {seconds:g} s would leave the clock's range ({RANGE_TEXT})")
        return self.now()

    def set(self, moment: datetime) -> float:
        """Set virtual now to `moment` (it may lie in the past: the offset is then negative)."""
        if moment.tzinfo is None:
            raise ValueError("the time needs a UTC offset (RFC 3339), e.g. 2026-01-01T00:00:00Z")
        try:
            ts = moment.timestamp()
        except (OverflowError, ValueError):
            ts = math.nan
        if not EARLIEST.timestamp() <= ts <= LATEST.timestamp():
            raise ClockRangeError(f"{moment.isoformat()} is outside the clock's range ({RANGE_TEXT})")
        self._store.put(_OFFSET_KEY, ts - self._real_time())
        return self.now()

    def reset(self) -> None:
        self._store.delete(_OFFSET_KEY)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 date-time with a mandatory offset ('Z' or +hh:mm)."""
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def format_rfc3339(ts: float) -> str:
    """UTC RFC 3339 with a 'Z' suffix and whole seconds, the form the vendors' JSON uses."""
    moment = datetime.fromtimestamp(int(ts), UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
