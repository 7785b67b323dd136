"""Activities rows: canonical events of one business-unit day rendered as the CSV columns of
ExpertSender API v2: Get subscriber activity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ...world import World
from ...world import model as m
from ...world.world import RECIPIENT_CACHE
from ...writers import LocalSeconds, csv_field, utf8_text
from .columns import CHANNEL_TYPES, columns

# ExpertSender API v2: Get subscriber activity, "Supported activity data types" -> the canonical event each
# one lists.
EVENT_OF_TYPE = {
    "Subscriptions": m.SUBSCRIBED, "Confirmations": m.CONFIRMED, "Sends": m.SENT, "Opens": m.OPENED,
    "Clicks": m.CLICKED, "Complaints": m.COMPLAINED, "Removals": m.UNSUBSCRIBED, "Bounces": m.BOUNCED,
    "Goals": m.GOAL,
}
CHANNEL_NAME = {m.EMAIL: "Email", m.SMS: "SmsMms"}

# Bounce reasons (Get subscriber activity, "Bounce reasons") and an SMTP diagnostic per detailed bounce code
# of the world.
_DIAGNOSTIC = {
    2001: ("UserUnknown", "550 5.1.1 Recipient address rejected: User unknown"),
    2002: ("UserUnknown", "550 5.1.2 Host or domain name not found"),
    2004: ("UserUnknown", "550 5.2.1 The email account that you tried to reach is disabled"),
    3001: ("MailboxFull", "452 4.2.2 Mailbox full, quota exceeded"),
    3002: ("Other", "421 4.7.0 Try again later, closing connection"),
    3003: ("Other", "550 5.2.1 Mailbox inactive"),
    1000: ("Blocked", "554 5.7.1 Message rejected: spam content"),
    1002: ("Blocked", "550 5.7.1 Service unavailable, client host blocked using a DNS blocklist"),
    4003: ("Other", "451 4.4.0 Network error while delivering"),
    4007: ("Other", "550 5.7.23 SPF validation failed"),
    4008: ("Other", "550 5.7.26 Unauthenticated email is not accepted due to DMARC policy"),
    4009: ("Other", "550 5.7.20 No valid DKIM signature found"),
    5000: ("OutOfOffice", ""),  # an auto reply carries no diagnostic code ("Optional" in the document)
    9999: ("Unknown", ""),
}


# An SMS bounce carries the SMS gateway's delivery receipt (SMPP "stat:... err:..."), not an SMTP reply: by the
# world code's range (emulator choice; Get subscriber activity shows no SmsMms bounce).
_SMS_DIAGNOSTIC = {1: ("Blocked", "stat:REJECTD err:005"), 3: ("Other", "stat:UNDELIV err:001"),
                   4: ("Other", "stat:EXPIRED err:000")}


def bounce_reason(code: int, sms: bool = False) -> tuple[str, str]:
    """(documented bounce reason, diagnostic code text) for a world bounce code, of an email or an SMS."""
    if sms:
        return _SMS_DIAGNOSTIC.get(code // 1000, ("Unknown", "stat:UNKNOWN err:000"))
    if code in _DIAGNOSTIC:
        return _DIAGNOSTIC[code]
    if 1000 <= code < 2000:
        return "Blocked", ""
    if 2000 <= code < 3000:
        return "UserUnknown", ""
    if 5000 <= code < 6000:
        return "OutOfOffice", ""
    return "Other", ""


def local_day(day: date, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) in epoch ms of a business-unit-local calendar day (23 or 25 hours across DST)."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


@dataclass
class ActivityQuery:
    activity: str
    day: date
    channel: str = "Email"  # All, Email, SmsMms
    extended: bool = False
    flags: dict[str, bool] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    until_ms: int | None = None  # virtual now: what has not happened yet is not listed

    def header(self) -> list[str]:
        channel = self.channel if self.activity in CHANNEL_TYPES else "Email"
        return columns(self.activity, channel, self.extended, self.flags)


def window(q: ActivityQuery, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) in epoch ms of what the query lists: its business-unit day, up to the virtual now."""
    start, end = local_day(q.day, tz)
    if q.until_ms is not None:
        end = max(start, min(end, q.until_ms))
    return start, end


def matching_events(world: World, q: ActivityQuery, tz: ZoneInfo,
                    part: tuple[int, int] | None = None) -> Iterator[m.Event]:
    """The day's events of the query's type, channel and tags, in time order (those of `part`
    of the day's window only, when given: a block of a parallel export)."""
    start, end = part or window(q, tz)
    want_channel = None
    if q.activity in CHANNEL_TYPES and q.channel != "All":
        want_channel = m.EMAIL if q.channel == "Email" else m.SMS
    elif q.activity not in CHANNEL_TYPES:
        want_channel = m.EMAIL
    wanted_tags = set(q.tags)
    # No column reads an event's seq or source time: Sends come without the hour's other events.
    events = (world.sent_events(start, end) if q.activity == "Sends"
              else world.events(start, end, (EVENT_OF_TYPE[q.activity],)))
    for event in events:
        if event.duplicate or (want_channel and event.channel != want_channel):
            continue
        if wanted_tags:
            msg = world.message(event.message_id) if event.message_id else None
            if msg is None or not wanted_tags <= set(msg.tags):
                continue
        yield event


def rows(world: World, q: ActivityQuery, tz: ZoneInfo) -> Iterator[list[Any]]:
    getters = [_GETTERS[name] for name in q.header()]
    lists = world.lists_by_id
    goals = {g.id: g for g in world.catalog.goals}
    ctx = _Context(world, tz, lists, goals)
    for event in matching_events(world, q, tz):
        ctx.load(event)
        yield [get(ctx) for get in getters]


# Columns whose value depends only on the message and variation: rendered once per message and reused.
_MESSAGE_COLUMNS = frozenset({"MessageId", "MessageSubject", "MessageContentId", "SegmentId"})
# Columns of the recipient, by channel: a row template reads them from the recipient's tuple itself, so that
# a row costs no lookup of its person. Never quoted: addresses are made of slugs, digits, dots and a mail
# domain, phones of digits, custom ids of "C-" and digits (test_world). SmsMms rows carry a phone, email
# rows an email.
_PERSON_FIELDS = {"Email": {False: "email", True: None}, "Phone": {False: None, True: "phone"},
                  "CustomSubscriberId": {False: "custom_id", True: "custom_id"}}
# Columns whose values (numbers, dates, IPs, GUIDs, fixed names) never need CSV quoting: str.format
# renders them as they are, without csv_field.
_PLAIN_COLUMNS = frozenset({"Date", "ListId", "Channel", "MessageGuid", "ActivityIp", "DeliveryIp", "GoalValue",
                            "GoalId"})


_ARGUMENT = {"e": 0, "r": 1, "m": 3}  # a row template's arguments: escaped, plain, (2: the recipient), message


def lines(world: World, q: ActivityQuery, tz: ZoneInfo, part: tuple[int, int] | None = None) -> Iterator[str]:
    """The rows of `rows` as CSV text (those of `part` of the window, when given): one str.format per row
    of a per-query template, given the event's escaped and plain fields, the recipient and the message's
    fields (escaped once per message and cached). Escaped fields are writers.utf8_text (plain and recipient
    columns: ASCII), so the lines are written with encoding="latin-1"."""
    header = q.header()
    # The recipient as built and cached, or where the recipients outgrow the cache (above scale 13), only
    # its contact columns, built anew per row.
    person, person_fields = ((world.recipient, m.Recipient._fields) if world.size <= RECIPIENT_CACHE
                             else (world.contact, World.CONTACT_FIELDS))
    slots: dict[str, list[str]] = {"e": [], "r": [], "m": []}
    fields: dict[bool, list[str]] = {False: [], True: []}  # by SmsMms row
    for name in header:
        if name in _PERSON_FIELDS:
            for sms, field_name in _PERSON_FIELDS[name].items():
                fields[sms].append("" if field_name is None else f"{{2[{person_fields.index(field_name)}]}}")
            continue
        kind = "m" if name in _MESSAGE_COLUMNS else "r" if name in _PLAIN_COLUMNS else "e"
        for row_fields in fields.values():
            row_fields.append(f"{{{_ARGUMENT[kind]}[{len(slots[kind])}]}}")
        slots[kind].append(name)
    email_row, sms_row = (",".join(fields[sms]).format for sms in (False, True))
    event_getters = [_GETTERS[name] for name in slots["e"]]
    plain_getters = [_GETTERS[name] for name in slots["r"]]
    message_getters = [_GETTERS[name] for name in slots["m"]]
    ctx = _Context(world, tz, world.lists_by_id, {g.id: g for g in world.catalog.goals})
    messages: dict[tuple[int, int], list[str]] = {}
    sms = m.SMS
    # The standard columns of most types need nothing of an event but its date once its message part is
    # cached: the context is loaded on a cache miss only.
    date_only = not event_getters and slots["r"] == ["Date"]
    date = ctx._local
    for event in matching_events(world, q, tz, part):
        key = (event.message_id, event.variation)
        msg_part = messages.get(key)
        if msg_part is None or not date_only:
            ctx.load(event)
            if msg_part is None:
                msg_part = messages[key] = [utf8_text(csv_field(get(ctx))) for get in message_getters]
        row = sms_row if event.channel == sms else email_row
        if date_only:
            yield row((), (date(event.ts),), person(event.recipient), msg_part)
        else:
            yield row([utf8_text(csv_field(get(ctx))) for get in event_getters],
                      [get(ctx) for get in plain_getters], person(event.recipient), msg_part)


class _Context:
    """The parts of one row several columns share, loaded once per event (the recipient on first use)."""

    def __init__(self, world: World, tz: ZoneInfo, lists, goals):
        self.world, self.tz, self.lists, self.goals = world, tz, lists, goals
        self._local = LocalSeconds(tz)

    def load(self, event: m.Event) -> None:
        self.e = event
        self.msg = self.world.message(event.message_id) if event.message_id else None
        self.sms = event.channel == m.SMS

    @property
    def person(self) -> m.Recipient:
        return self.world.recipient(self.e.recipient)

    def date(self) -> str:
        return self._local(self.e.ts)

    def list_id(self) -> int | str:
        if self.e.list_id:
            return self.e.list_id
        return self.msg.list_id if self.msg else ""

    def delivery_ip(self) -> str:
        if self.msg:
            return self.world.delivery_ip(self.msg, self.e.recipient)
        ips = self.world.catalog.delivery_ips
        return ips[self.e.recipient % len(ips)]  # the confirmation request's sending IP


def _list_name(c: _Context) -> str:
    list_id = c.list_id()
    return c.lists[list_id].name if list_id in c.lists else ""


def _link(c: _Context):
    return c.msg.links[c.e.link] if c.msg and c.e.link >= 0 else None


_GETTERS: dict[str, Callable[[_Context], Any]] = {
    "Date": _Context.date,
    "Email": lambda c: "" if c.sms else c.person.email,  # SmsMms rows carry a phone, email rows an email
    "Phone": lambda c: c.person.phone if c.sms else "",
    "ListId": _Context.list_id,
    "ListName": _list_name,
    "CustomSubscriberId": lambda c: c.person.custom_id,
    "Channel": lambda c: CHANNEL_NAME[c.e.channel],
    "MessageId": lambda c: c.msg.id if c.msg else "",
    "MessageSubject": lambda c: c.msg.subject_for(c.e.variation) if c.msg else "",
    "Url": lambda c: (_link(c).url if _link(c) else ""),
    "Title": lambda c: (_link(c).title if _link(c) else ""),
    "MessageGuid": lambda c: c.world.message_guid(c.msg.id, c.e.recipient) if c.msg else "",
    "MessageContentId": lambda c: c.msg.content_id if c.msg else "",
    "SegmentId": lambda c: c.msg.segment_id if c.msg else "",  # "If only a list was used then it will return 0."
    "ActivityIp": lambda c: c.e.ip,
    "DeliveryIp": _Context.delivery_ip,
    "Reason": lambda c: bounce_reason(c.e.bounce_code, c.sms)[0] if c.e.type == m.BOUNCED else c.e.reason,
    "DiagnosticCode": lambda c: bounce_reason(c.e.bounce_code, c.sms)[1],
    "GoalValue": lambda c: c.goals[c.e.goal_id].value if c.e.goal_id in c.goals else 0,
    "GoalId": lambda c: c.e.goal_id,
}
