"""Deterministic data: pools built with seeded Faker, events generated lazily per hour from a fast PRNG."""

from .model import EVENT_TYPES, Event, Link, Message, Recipient, Wave  # noqa: F401
from .world import DAY_MS, HOUR_MS, World, bounce_kind, get_world  # noqa: F401
