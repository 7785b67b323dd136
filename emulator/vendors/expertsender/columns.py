"""The Activities CSV columns of each type, transcribed from the tables of
ExpertSender API v2: Get subscriber activity (in table order).

Each column carries the condition of its footnote: None (always), "channel_all" ("Returned only if channel
option was set to All"), "extended" ("Extended columns"), or the return* flag that adds it. `Email` is the
unnamed row of every table. Where the document's 2011 examples disagree with its tables, the tables win.
"""

from __future__ import annotations

ALWAYS, CHANNEL_ALL, EXTENDED = None, "channel_all", "extended"
TITLE, GUID, CONTENT_ID, SEGMENT_ID = "returnTitle", "returnGuid", "returnMessageContentId", "returnSegmentId"
ACTIVITY_IP, DELIVERY_IP = "returnActivityIp", "returnDeliveryIp"
FLAGS = (TITLE, GUID, CONTENT_ID, SEGMENT_ID, ACTIVITY_IP, DELIVERY_IP)

_LIST = (("ListId", EXTENDED), ("ListName", EXTENDED))
_MESSAGE_EXTRAS = (("MessageGuid", GUID), ("MessageContentId", CONTENT_ID), ("SegmentId", SEGMENT_ID))
_IPS = (("ActivityIp", ACTIVITY_IP), ("DeliveryIp", DELIVERY_IP))

TABLES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "Subscriptions": (("Date", ALWAYS), ("Email", ALWAYS), ("Phone", ALWAYS), ("ListId", ALWAYS),
                      ("ListName", ALWAYS), ("CustomSubscriberId", ALWAYS), ("Channel", CHANNEL_ALL)),
    "Confirmations": (("Date", ALWAYS), ("Email", ALWAYS), ("ListId", ALWAYS), ("ListName", ALWAYS),
                      ("CustomSubscriberId", ALWAYS), *_IPS),
    "Sends": (("Date", ALWAYS), ("Email", ALWAYS), ("Phone", ALWAYS), ("MessageId", ALWAYS),
              ("MessageSubject", ALWAYS), ("CustomSubscriberId", ALWAYS), ("Channel", CHANNEL_ALL), *_LIST,
              *_MESSAGE_EXTRAS, ("DeliveryIp", DELIVERY_IP)),
    "Opens": (("Date", ALWAYS), ("Email", ALWAYS), ("MessageId", ALWAYS), ("MessageSubject", ALWAYS),
              ("CustomSubscriberId", ALWAYS), *_LIST, *_MESSAGE_EXTRAS, *_IPS),
    "Clicks": (("Date", ALWAYS), ("Email", ALWAYS), ("Phone", ALWAYS), ("MessageId", ALWAYS),
               ("MessageSubject", ALWAYS), ("Url", ALWAYS), ("CustomSubscriberId", ALWAYS),
               ("Channel", CHANNEL_ALL), ("Title", TITLE), *_LIST, *_MESSAGE_EXTRAS, *_IPS),
    "Complaints": (("Date", ALWAYS), ("Email", ALWAYS), ("MessageId", ALWAYS), ("MessageSubject", ALWAYS),
                   ("CustomSubscriberId", ALWAYS), *_LIST, *_MESSAGE_EXTRAS),
    "Removals": (("Date", ALWAYS), ("Email", ALWAYS), ("Phone", ALWAYS), ("Reason", ALWAYS),
                 ("MessageId", ALWAYS), ("MessageSubject", ALWAYS), ("CustomSubscriberId", ALWAYS),
                 ("Channel", CHANNEL_ALL), *_LIST, *_MESSAGE_EXTRAS, *_IPS),
    "Bounces": (("Date", ALWAYS), ("Email", ALWAYS), ("Phone", ALWAYS), ("Reason", ALWAYS),
                ("MessageId", ALWAYS), ("DiagnosticCode", ALWAYS), ("CustomSubscriberId", ALWAYS),
                ("Channel", CHANNEL_ALL), *_LIST, *_MESSAGE_EXTRAS),
    "Goals": (("Date", ALWAYS), ("Email", ALWAYS), ("Phone", ALWAYS), ("MessageId", ALWAYS),
              ("MessageSubject", ALWAYS), ("GoalValue", ALWAYS), ("GoalId", ALWAYS),
              ("CustomSubscriberId", ALWAYS), ("Channel", CHANNEL_ALL), *_LIST, *_MESSAGE_EXTRAS, *_IPS),
}
TYPES = tuple(TABLES)

# "channel ... Applicable only for the following activity types: Subscriptions, Sends, Clicks, Removals,
# Bounces, Goals." / "tags ... only available for ... Sends, Opens, Clicks, Complaints, Removals, Bounces,
# Goals." (seed, request parameters)
CHANNEL_TYPES = frozenset({"Subscriptions", "Sends", "Clicks", "Removals", "Bounces", "Goals"})
TAG_TYPES = frozenset({"Sends", "Opens", "Clicks", "Complaints", "Removals", "Bounces", "Goals"})
SYSTEM_TAGS = frozenset({"API", "D&D", "A/B"})  # "System tags cannot be searched (API, D&D, A/B)."


def columns(activity: str, channel: str, extended: bool, flags: dict[str, bool]) -> list[str]:
    """The header of one request: each conditional column present exactly when its footnote says."""
    out = []
    for name, condition in TABLES[activity]:
        if condition is None or (condition == CHANNEL_ALL and channel == "All") \
                or (condition == EXTENDED and extended) or flags.get(condition, False):
            out.append(name)
    return out
