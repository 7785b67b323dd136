"""The entities of the world: recipients, messages with their links and send waves, and events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
Y2020_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z

# Canonical event types. Each vendor renders them in its own vocabulary and drops those it lacks.
SENT = "sent"
DELIVERED = "delivered"
OPENED = "opened"
CLICKED = "clicked"
BOUNCED = "bounced"
UNSUBSCRIBED = "unsubscribed"
COMPLAINED = "complained"
SUBSCRIBED = "subscribed"
CONFIRMED = "confirmed"
GOAL = "goal"
DROPPED = "dropped"
INVALID = "invalid"
EVENT_TYPES = (SENT, DELIVERED, OPENED, CLICKED, BOUNCED, UNSUBSCRIBED, COMPLAINED, SUBSCRIBED, CONFIRMED,
               GOAL, DROPPED, INVALID)

EMAIL = "email"
SMS = "sms"


class Event(NamedTuple):
    """One canonical event. Times are integers in milliseconds since the Unix epoch."""

    ts: int  # when the platform recorded it (APSIS server_time); windows select on this
    type: str
    message_id: int  # 0 for events not caused by a message (subscriptions, manual removals)
    recipient: int  # recipient index
    seq: int  # unique within its hour; a retried duplicate repeats the seq (and so the correlation id)
    source_ts: int  # time the source reported (APSIS event_time), with the documented 0 / 1970 quirks
    channel: str  # email or sms
    variation: int  # -1: no split test; 0..n-1: split group; n: the winning partition
    link: int  # index into the message's links for clicks, else -1
    device: str  # opens and clicks
    ip: str  # activity IP for opens, clicks, subscriptions, removals
    bounce_code: int  # APSIS-style detailed bounce code for bounces, else 0
    reason: str  # removal reason (ExpertSender vocabulary) for unsubscribes
    list_id: int
    goal_id: int
    duplicate: bool  # a retried copy of an earlier event (same correlation id)

    @property
    def hour(self) -> int:
        return self.ts // 3_600_000


class Recipient(NamedTuple):
    """One person of the world. A named tuple rather than a frozen dataclass, whose __init__ sets each field
    through object.__setattr__: a cold export builds every recipient it meets."""

    index: int
    subscriber_id: int
    email: str
    phone: str  # digits only, with country code
    first_name: str
    last_name: str
    custom_id: str  # may be empty, as in the ExpertSender examples
    country: str  # ISO 3166-1 alpha-2
    city: str
    gender: str
    birthdate: str  # YYYY-MM-DD
    device: str  # habitual device
    ip: str
    loyalty_points: int
    vip: bool
    last_purchase_ms: int
    lifetime_value: float
    created_ms: int
    section: int


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Wave:
    """Part of a message's audience (positions [lo, hi) in list order) sent from `start_ms` on."""

    start_ms: int
    lo: int
    hi: int
    variation: int
    step_ms: int

    @property
    def hour(self) -> int:
        return self.start_ms // 3_600_000


@dataclass(frozen=True, slots=True)
class Variation:
    split_id: int
    name: str
    subject: str


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    day: int
    channel: str
    name: str
    subject: str
    sender_name: str
    sender_email: str
    sender_domain: str
    section: int
    list_id: int
    segment_id: int  # 0 when sent to the whole list
    send_ms: int
    links: tuple[Link, ...]
    tags: tuple[str, ...]
    content_id: int
    waves: tuple[Wave, ...]
    variations: tuple[Variation, ...]  # empty unless split-tested
    winner: int  # index of the winning variation, -1 without split test
    open_rate: float
    click_rate: float
    bounce_bp: int  # per 10,000 sends
    xapiheader: str

    @property
    def is_split(self) -> bool:
        return bool(self.variations)

    def split_id(self, variation: int) -> int:
        """APSIS split_id: the sub-activity of a split group; the message id itself otherwise."""
        if 0 <= variation < len(self.variations):
            return self.variations[variation].split_id
        return self.id

    def subject_for(self, variation: int) -> str:
        if 0 <= variation < len(self.variations):
            return self.variations[variation].subject
        if variation == len(self.variations) and self.variations:
            return self.variations[self.winner].subject
        return self.subject
