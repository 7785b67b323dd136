"""Asynchronous export lifecycle shared by the vendors: pending -> ready or failed -> expired.

A job stores its request and three instants (created, ready, expires) plus an outcome; its state is
derived from the virtual clock, so no worker has to "finish" anything and a test moves the clock instead
of sleeping. The file itself is rendered on demand by the vendor's streaming writer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .store import Store

PENDING, READY, FAILED, EXPIRED = "pending", "ready", "failed", "expired"

# Outcomes a job can be created with (the fault engine's export actions pick the non-default ones).
OK, NEVER_READY, FAIL, TOO_LARGE = "ok", "never_ready", "fail", "too_large"
OUTCOMES = (OK, NEVER_READY, FAIL, TOO_LARGE)
EVENTS_PER_SECOND = 200_000  # virtual processing speed: a bigger export takes longer to become ready


@dataclass(frozen=True)
class ExportModifiers:
    """What fault rules ask of the next export: an outcome, extra delay, an earlier expiry."""

    outcome: str = OK
    extra_delay: float = 0.0
    expires_after: float | None = None  # seconds after ready (an "expires early" fault)

    def merge(self, other: ExportModifiers) -> ExportModifiers:
        return ExportModifiers(
            outcome=other.outcome if other.outcome != OK else self.outcome,
            extra_delay=self.extra_delay + other.extra_delay,
            expires_after=other.expires_after if other.expires_after is not None else self.expires_after,
        )


@dataclass
class Job:
    id: str
    vendor: str
    kind: str
    request: dict[str, Any]
    created_at: float
    ready_at: float
    expires_at: float
    outcome: str
    meta: dict[str, Any] = field(default_factory=dict)

    def state(self, now: float) -> str:
        if now >= self.expires_at:
            return EXPIRED
        if self.outcome == NEVER_READY or now < self.ready_at:
            return PENDING
        if self.outcome in (FAIL, TOO_LARGE):
            return FAILED
        return READY

    def to_json(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        return {
            "id": self.id, "vendor": self.vendor, "kind": self.kind, "state": state, "outcome": self.outcome,
            "request": self.request, "created_at": self.created_at, "ready_at": self.ready_at,
            "expires_at": self.expires_at, "meta": self.meta,
            "seconds_to_ready": max(0.0, self.ready_at - now) if state == PENDING else 0.0,
            "seconds_to_expiry": max(0.0, self.expires_at - now),
        }


class Exports:
    def __init__(self, store: Store, clock: Clock, seed: int, base_delay: float):
        self._store = store
        self._clock = clock
        self._seed = seed
        self._base_delay = base_delay

    def create(self, vendor: str, kind: str, request: dict[str, Any], *, estimated_events: int, ttl: float,
               modifiers: ExportModifiers = ExportModifiers(), size_limit: int | None = None,
               meta: dict[str, Any] | None = None) -> Job:
        """Register a job. `ttl` is how long after ready the export lives.

        Its id is a random UUID (the shape APSIS and Netcore ids have): ids never repeat within a state
        directory, also after a reset, so an old poll or signed download URL cannot reach a newer job's file,
        and one id tells nothing about another."""
        now = self._clock.now()
        job_id = str(uuid.uuid4())
        ready_at = now + self._base_delay + estimated_events / EVENTS_PER_SECOND + modifiers.extra_delay
        outcome = modifiers.outcome
        if outcome == OK and size_limit is not None and estimated_events > size_limit:
            outcome = TOO_LARGE
        expires_at = ready_at + (modifiers.expires_after if modifiers.expires_after is not None else ttl)
        job = Job(job_id, vendor, kind, request, now, ready_at, expires_at, outcome,
                  dict(meta or {}, estimated_events=estimated_events))
        self._store.insert_job(job.__dict__)
        return job

    def get(self, job_id: str, vendor: str | None = None) -> Job | None:
        row = self._store.job(job_id)
        if row is None or (vendor is not None and row["vendor"] != vendor):
            return None
        return Job(**row)

    def all(self, vendor: str | None = None, kind: str | None = None) -> list[Job]:
        return [Job(**row) for row in self._store.jobs(vendor, kind)]

    def count_in_state(self, vendor: str, kind: str | None, state: str) -> int:
        now = self._clock.now()
        return sum(1 for job in self.all(vendor, kind) if job.state(now) == state)

    def update_meta(self, job: Job, **meta: Any) -> None:
        job.meta.update(meta)
        self._store.update_job(job.id, meta=job.meta)
