"""The APSIS One account as seen through the world: sections, attributes, tags, event types, segments,
topics and activities, with the ids and discriminators that also appear in the export files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ...core import Core
from ...world import model as m
from ...world.catalog import Attribute, EventType, MailingList, Section, Segment, Tag, slug
from ...world.hashing import alnum, h, uuid_from
from ...world.model import Event, Message, Recipient
from ...world.world import DAY_MS, PLATFORM_REMOVALS, World
from .errors import Problem

# Canonical event -> the export's `type` ("Request email event export": SENT, DELIVERED, OPENED, CLICKED,
# BOUNCED, UNSUBSCRIBED, ABUSE; "Reported spam" is ABUSE).
EXPORT_TYPES = {
    m.SENT: "SENT",
    m.DELIVERED: "DELIVERED",
    m.OPENED: "OPENED",
    m.CLICKED: "CLICKED",
    m.BOUNCED: "BOUNCED",
    m.UNSUBSCRIBED: "UNSUBSCRIBED",
    m.COMPLAINED: "ABUSE",
}

# Members of each event type's `data` in the profile export (emulator choice, listed by GET .../events).
EVENT_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    m.SENT: (("activity_id", "integer"), ("split_id", "integer")),
    m.DELIVERED: (("activity_id", "integer"), ("split_id", "integer")),
    m.OPENED: (
        ("activity_id", "integer"),
        ("split_id", "integer"),
        ("device", "string"),
        ("location", "string"),
    ),
    m.CLICKED: (
        ("activity_id", "integer"),
        ("split_id", "integer"),
        ("device", "string"),
        ("location", "string"),
        ("link_id", "integer"),
        ("link_url", "string"),
    ),
    m.BOUNCED: (("activity_id", "integer"), ("split_id", "integer"), ("bounce_code", "integer")),
    m.UNSUBSCRIBED: (("activity_id", "integer"), ("split_id", "integer"), ("unsubscribe_topic", "string")),
    m.COMPLAINED: (("activity_id", "integer"), ("split_id", "integer"), ("abuse_section", "string")),
}
RECENT_DAYS = 30  # "recent activities": sent in the last 30 days (emulator choice)


@dataclass(frozen=True)
class ConsentList:
    discriminator: str
    name: str
    topics: tuple[MailingList, ...]  # a topic per mailing list: its `topic` discriminator and its name


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_name(discriminator: str) -> str:
    """The header name of an attribute or tag column: the discriminator's last part ("Request email event
    export": 'gender')."""
    return discriminator.rsplit(".", 1)[-1]


@lru_cache(maxsize=16)
def _sections(world_sections: tuple[Section, ...], seed: int, count: int) -> tuple[Section, ...]:
    out = list(world_sections)
    for i in range(len(out), count):
        name = f"Section {i + 1}"
        discriminator = f"usercreated.sections.{slug(name)}-{alnum(h(seed, 100 + i, 77), 10)}"
        out.append(Section(i, uuid_from(seed, 11, i), discriminator, name))
    return tuple(out)


class Account:
    def __init__(self, core: Core):
        self.core = core
        self.world: World = core.world
        self.cat = self.world.catalog

    # --- sections --------------------------------------------------------------------------
    def sections(self) -> tuple[Section, ...]:
        """The world's sections, plus empty ones up to the configured section count of the account."""
        return _sections(self.cat.sections, self.core.settings.seed, self.core.settings.apsis_section_count)

    def section(self, discriminator: str, field: str | None = None) -> Section:
        for sec in self.sections():
            if sec.discriminator == discriminator:
                return sec
        if field:
            raise Problem(
                400, f"{field}: unknown section discriminator {discriminator!r}", "Validation error"
            )
        raise Problem(404, f"Section {discriminator!r} was not found.")

    # --- definitions -----------------------------------------------------------------------
    def attribute(self, discriminator: str, field: str) -> Attribute:
        for attr in self.cat.attributes:
            if attr.discriminator == discriminator:
                return attr
        raise Problem(400, f"{field}: unknown attribute discriminator {discriminator!r}", "Validation error")

    def tag(self, discriminator: str, field: str) -> Tag:
        for tag in self.cat.tags:
            if tag.discriminator == discriminator:
                return tag
        raise Problem(400, f"{field}: unknown tag discriminator {discriminator!r}", "Validation error")

    def event_type(self, discriminator: str, field: str) -> EventType:
        for et in self.cat.event_types:
            if et.discriminator == discriminator:
                return et
        raise Problem(400, f"{field}: unknown event discriminator {discriminator!r}", "Validation error")

    def event_type_of(self, canonical: str) -> EventType:
        return next(et for et in self.cat.event_types if et.canonical == canonical)

    def topic(self, discriminator: str, field: str) -> MailingList:
        for lst in self.cat.lists:
            if lst.topic == discriminator:
                return lst
        raise Problem(400, f"{field}: unknown topic discriminator {discriminator!r}", "Validation error")

    def segment(self, segment_filter: dict[str, Any] | None) -> Segment | None:
        if not segment_filter:
            return None
        disc = segment_filter["segment_discriminator"]
        seg = next((s for s in self.cat.segments if s.discriminator == disc), None)
        if seg is None:
            raise Problem(
                400, f"segment_filter.segment_discriminator: unknown segment {disc!r}", "Validation error"
            )
        version = segment_filter.get("version_id")
        if version is not None and version != seg.version_id:
            raise Problem(
                400,
                f"segment_filter.version_id: segment {disc!r} has no version {version}",
                "Validation error",
            )
        return seg

    # --- consent lists and topics ----------------------------------------------------------
    def consent_lists(self, section: Section) -> list[ConsentList]:
        """A section's consent lists: one, holding a topic per mailing list of the section, so that every
        `unsubscribe_topic` of an event resolves in the event's section (an activity's section is its
        list's). Discriminators follow usercreated.targets.<slug>-<10> (the official APSIS Magento and
        PrestaShop modules)."""
        topics = tuple(lst for lst in self.cat.lists if lst.section == section.index)
        if not topics:
            return []
        name = f"{section.name} email consent"
        disc = f"usercreated.targets.{slug(name)}-{alnum(h(self.core.settings.seed, 600, section.index), 10)}"
        return [ConsentList(disc, name, topics)]

    def consent_list(self, section: Section, discriminator: str) -> ConsentList:
        for cl in self.consent_lists(section):
            if cl.discriminator == discriminator:
                return cl
        raise Problem(404, f"Consent list {discriminator!r} was not found in section "
                           f"{section.discriminator!r}.")

    def segment_by_discriminator(self, discriminator: str) -> Segment:
        seg = next((s for s in self.cat.segments if s.discriminator == discriminator), None)
        if seg is None:
            raise Problem(404, f"Segment {discriminator!r} was not found.")
        return seg

    def topic_of_list(self, list_id: int) -> str:
        lst = self.world.lists_by_id.get(list_id)
        return lst.topic if lst else ""

    # --- attribute values --------------------------------------------------------------------
    @staticmethod
    def attribute_value(attr: Attribute, person: Recipient) -> Any:
        """The typed value of a profile attribute (None when unset): "Request email event export", "follows
        the type"."""
        if attr.field == "last_purchase":
            return iso(person.last_purchase_ms)
        value = getattr(person, attr.field)
        if value == "":
            return None
        return value

    @staticmethod
    def csv_value(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    # --- activities ------------------------------------------------------------------------
    def activities(self, section: Section) -> Iterator[Message]:
        """Email activities of a section sent in the last RECENT_DAYS days, newest first."""
        now = self.core.clock.now_ms()
        msgs = [
            msg
            for msg in self.world.messages_between(now - RECENT_DAYS * DAY_MS, now + 1)
            if msg.channel == m.EMAIL and msg.section == section.index
        ]
        return iter(sorted(msgs, key=lambda msg: (msg.send_ms, msg.id), reverse=True))

    def activity(self, section: Section, activity_id: int) -> Message:
        msg = self.world.message(activity_id) if activity_id >= 0 else None
        if (
            msg is None
            or msg.channel != m.EMAIL
            or msg.section != section.index
            or msg.send_ms > self.core.clock.now_ms()
        ):
            raise Problem(404, f"Activity {activity_id} was not found in section {section.discriminator!r}.")
        return msg

    def activity_json(self, msg: Message, *, links: bool = False) -> dict[str, Any]:
        out = {
            "id": msg.id,
            "name": msg.name,
            "subject": msg.subject,
            "sender_name": msg.sender_name,
            "sender_email": msg.sender_email,
            "section_discriminator": self.cat.sections[msg.section].discriminator,
            "sent_at": iso(msg.send_ms),
            "split_activities": [
                {"id": v.split_id, "name": v.name, "subject": v.subject} for v in msg.variations
            ],
        }
        if links:
            out["links"] = [{"id": link.id, "url": link.url, "title": link.title} for link in msg.links]
        return out

    # --- events as APSIS sees them -------------------------------------------------------------
    def email_events(
        self,
        start_ms: int,
        end_ms: int,
        types: frozenset[str],
        sections: set[int] | None,
        segment: Segment | None,
    ) -> Iterator[tuple[Event, Message]]:
        """Email events caused by activities in [start_ms, end_ms), retried duplicates included ("Request
        email event export": "The same correlation_id value may be repeated")."""
        world = self.world
        for event in world.events(start_ms, end_ms, types):
            if event.channel != m.EMAIL or event.message_id == 0:
                continue
            if event.type == m.UNSUBSCRIBED and event.reason in PLATFORM_REMOVALS:
                continue  # the platform's own removal after a bounce, not an email event
            msg = world.message(event.message_id)
            if sections is not None and msg.section not in sections:
                continue
            if segment is not None and not world.in_segment(segment.id, event.recipient):
                continue
            yield event, msg

    def variation_parts(self, msg: Message, variation: int) -> tuple[int, str, str]:
        """(split_id, split_activity_name, variation) of an event ("Request email event export": split_id
        equals activity_id for non-split sendings and for the winning partition)."""
        if not msg.is_split or variation < 0:
            return msg.id, "", ""
        group = msg.variations[variation] if variation < len(msg.variations) else msg.variations[msg.winner]
        return msg.split_id(variation), group.name, group.name.removeprefix("Group ")

    def event_data(self, event: Event, msg: Message) -> dict[str, Any]:
        split_id, _, _ = self.variation_parts(msg, event.variation)
        data: dict[str, Any] = {"activity_id": msg.id, "split_id": split_id}
        if event.type in (m.OPENED, m.CLICKED):
            data.update(device=event.device, location=self.world.location(event))
        if event.type == m.CLICKED:
            link = msg.links[event.link]
            data.update(link_id=link.id, link_url=link.url)
        elif event.type == m.BOUNCED:
            data["bounce_code"] = event.bounce_code
        elif event.type == m.UNSUBSCRIBED:
            data["unsubscribe_topic"] = self.topic_of_list(event.list_id)
        elif event.type == m.COMPLAINED:
            data["abuse_section"] = self.cat.sections[msg.section].discriminator
        return data

    def estimate_event_rows(
        self, start_ms: int, end_ms: int, sections: set[int] | None, segment: Segment | None
    ) -> int:
        """A quick estimate of exported events from the audiences of the activities in the window."""
        audience = 0
        for msg in self.world.messages_between(start_ms - 2 * DAY_MS, end_ms):
            if msg.channel == m.EMAIL and (sections is None or msg.section in sections):
                audience += self.world.lists_by_id[msg.list_id].size
        share = segment.share_permille / 1000 if segment else 1.0
        return int(audience * 2.1 * share)  # sent + delivered + engagement, about 2.1 events per recipient
