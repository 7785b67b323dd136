"""Netcore's event vocabulary and how canonical world events map onto it.

Log filter values come from the SDKs' EventsEnum ("Fetch Event Logs"); v6 adds scheduled and cancelled
("Fetch Logs" (v6)).
The aggregates and their members are the reference/logs page's ("Fetch Event Logs").
"""

from __future__ import annotations

from ...world import bounce_kind
from ...world.model import (
    BOUNCED,
    CLICKED,
    COMPLAINED,
    DELIVERED,
    DROPPED,
    EMAIL,
    INVALID,
    OPENED,
    SENT,
    UNSUBSCRIBED,
    Event,
)

PROCESSED, NC_SENT, OPEN, CLICK, UNSUBSCRIBE = "processed", "sent", "open", "click", "unsubscribe"
BOUNCE, SOFTBOUNCE, HARDBOUNCE, SPAM, NC_INVALID, NC_DROPPED = ("bounce", "softbounce", "hardbounce", "spam",
                                                                  "invalid", "dropped")
SCHEDULED, CANCELLED = "scheduled", "cancelled"  # v6 only; the world has no scheduled sends, so never rows

# Every status a log row can carry (bounce is a filter over the two kinds, not a row status).
STATUSES = (PROCESSED, NC_SENT, OPEN, CLICK, UNSUBSCRIBE, HARDBOUNCE, SOFTBOUNCE, SPAM, NC_INVALID,
            NC_DROPPED)
EVENTS_V51 = (PROCESSED, NC_SENT, OPEN, CLICK, UNSUBSCRIBE, BOUNCE, SOFTBOUNCE, SPAM, NC_INVALID, NC_DROPPED,
              HARDBOUNCE)
EVENTS_V6 = EVENTS_V51 + (SCHEDULED, CANCELLED)
AGGREGATES = {
    "total_requested": frozenset(STATUSES),  # "all entries"
    "total_delivered": frozenset({NC_SENT, OPEN, CLICK, UNSUBSCRIBE, SPAM}),
    "total_opened": frozenset({OPEN, CLICK, UNSUBSCRIBE, SPAM}),
    "total_clicked": frozenset({CLICK, UNSUBSCRIBE}),
}

# Canonical types each status comes from (to ask the world only for what can match).
CANONICAL = {PROCESSED: SENT, NC_SENT: DELIVERED, OPEN: OPENED, CLICK: CLICKED, UNSUBSCRIBE: UNSUBSCRIBED,
             HARDBOUNCE: BOUNCED, SOFTBOUNCE: BOUNCED, SPAM: COMPLAINED, NC_INVALID: INVALID,
             NC_DROPPED: DROPPED}

# Stats counters: one per row status, plus bounce (hard + soft) and requested (every send attempt:
# processed + dropped + invalid). Each equals the number of log rows for the same events filter.
COUNTERS = ("requested", PROCESSED, NC_SENT, OPEN, CLICK, BOUNCE, HARDBOUNCE, SOFTBOUNCE, SPAM, UNSUBSCRIBE,
            NC_DROPPED, NC_INVALID)
COUNTER_MEMBERS = {name: frozenset({name}) for name in STATUSES}
COUNTER_MEMBERS["bounce"] = frozenset({HARDBOUNCE, SOFTBOUNCE})
COUNTER_MEMBERS["requested"] = frozenset({PROCESSED, NC_DROPPED, NC_INVALID})

_SIMPLE = {SENT: PROCESSED, DELIVERED: NC_SENT, OPENED: OPEN, CLICKED: CLICK, COMPLAINED: SPAM,
           DROPPED: NC_DROPPED, INVALID: NC_INVALID}


def status_of(event: Event) -> str | None:
    """The Netcore status of a canonical event, or None when Netcore has no such event.

    Skipped: retried duplicates, SMS, events no message caused (list activity), goals, and removals the
    platform makes after a complaint or a hard bounce (only the recipient's own unsubscribe counts).
    """
    if event.duplicate or event.channel != EMAIL or event.message_id == 0:
        return None
    status = _SIMPLE.get(event.type)  # the common case first: a status by type alone
    if status is None:
        if event.type == BOUNCED:
            # bounce_kind: hard, soft or transient; Netcore knows only hard and soft, so transient is soft.
            return HARDBOUNCE if bounce_kind(event.bounce_code) == "hard" else SOFTBOUNCE
        if event.type == UNSUBSCRIBED:
            return UNSUBSCRIBE if event.reason == "Subscriber" else None
    return status


def statuses_for(values: list[str] | None) -> frozenset[str]:
    """Row statuses an `events` filter selects (already checked: an aggregate comes alone)."""
    if not values:
        return frozenset(STATUSES)
    out: set[str] = set()
    for value in values:
        if value in AGGREGATES:
            out |= AGGREGATES[value]
        elif value == BOUNCE:
            out |= {HARDBOUNCE, SOFTBOUNCE}
        elif value in STATUSES:
            out.add(value)
        # scheduled / cancelled select nothing in this world
    return frozenset(out)
