"""One seeded world of email activity, and its events for any time window.

The events of a window are a pure function of (seed, scale, window). They are generated lazily, one
shard per hour of time, each shard independent of every other, so that
`events(a, c) == events(a, b) + events(b, c)` for any cut b and a window costs only its own events.

What a send to a recipient becomes is a function of the message, the recipient and the recipient's
lifecycle (lifecycle.py: whether they are a member of the list then, or have left the account): whether
it was dropped, invalid, bounced or delivered is decided for a whole wave at once (`wave_plan`), so an
open generated for hour 30 after the send is only ever given to a recipient the send hour delivered to.
Event times never precede the send of their message; opens and clicks follow its delivery.
"""

from __future__ import annotations

import bisect
import gc
import math
import os
import random
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import pairwise
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

from .. import parallel
from . import model as m
from . import vector
from .catalog import DEVICE_WEIGHTS, DEVICES, FREE_MAIL, LOCALES, Catalog, build_catalog, slug
from . import lifecycle as life
from .hashing import MASK, alnum, h, mix, uuid_at
from .lifecycle import Lifecycle
from .model import Event, Link, Message, Recipient, Variation, Wave
from .vector import uuid_range

if TYPE_CHECKING:
    import numpy as np

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
BASE_RECIPIENTS = 5_000  # recipients at scale 1; volume per hour follows scale
ENGAGEMENT_HOURS = 48  # opens and clicks happen within two days of the send
# Share of a delivery's engagement falling k hours after the send (decays with a 3-hour constant).
_RAW = [math.exp(-k / 3.0) for k in range(ENGAGEMENT_HOURS)]
ENGAGEMENT_WEIGHTS = tuple(w / sum(_RAW) for w in _RAW)
Y2020_MS = 1_577_836_800_000
FIRST_DAY = (date.min - date(1970, 1, 1)).days  # the calendar the world can name (years 1 to 9999)
LAST_DAY = (date.max - date(1970, 1, 1)).days - 1

# Bounce codes from the APSIS email export seed that do not end an address, with the rough share each has
# among such bounces. The permanent ones (2000-2999, "Invalid address (permanent)") end a recipient's
# lifecycle and come from lifecycle.py only.
BOUNCE_CODES = ((3001, 24), (3002, 10), (3003, 7), (1000, 10), (1002, 7), (4003, 8), (4007, 5), (4008, 5),
                (4009, 4), (5000, 10), (9999, 5))
_BOUNCE_TABLE = [code for code, share in BOUNCE_CODES for _ in range(share)]
REMOVAL_REASONS = ("Subscriber", "User", "Bounce", "Spam", "UserUnknown", "Api")  # ExpertSender seed
PLATFORM_REMOVALS = frozenset({"UserUnknown", "Bounce"})  # removals the platform makes after a bounce
GOAL_PER_CLICK = 0.05
DELIVERY_DELAY_MAX = 61_000  # a delivery follows its send within 1 to 61 s
SMS_LIST = life.SMS_LIST
DUPLICATE_RATE = 0.002  # retried events that repeat a correlation id (APSIS seed quirk)


# A recipient's device by a roll of 0..99, in DEVICE_WEIGHTS shares (a table instead of a loop).
_DEVICE_BY_ROLL = tuple(dev for dev, weight in zip(DEVICES, DEVICE_WEIGHTS) for _ in range(weight))
_BORN_1950 = date(1950, 1, 1).toordinal()
_CREATED_0 = Y2020_MS - 4 * 365 * DAY_MS


@cache
def _birthdate(day: int) -> str:
    """YYYY-MM-DD of a birthdate, `day` days after 1950-01-01 (20,000 of them at most)."""
    return date.fromordinal(_BORN_1950 + day).isoformat()


def bounce_kind(code: int) -> str:
    """hard, soft or transient, from the APSIS code ranges: hard is "2000-2999 Invalid address (permanent)";
    "1000-1999 Rejected by recipient's server" and "3000-3999 Address is temporarily unavailable" are soft."""
    if 2000 <= code < 3000:
        return "hard"
    if 1000 <= code < 2000 or 3000 <= code < 4000 or 5000 <= code < 6000:
        return "soft"
    return "transient"


class World:
    CONTACT_FIELDS = ("email", "phone", "custom_id")  # of `contact`

    def __init__(self, seed: int, scale: float = 1.0):
        self.seed = seed
        self.scale = scale
        self.size = max(100, int(BASE_RECIPIENTS * scale))
        self.catalog: Catalog = build_catalog(seed, self.size)
        cat = self.catalog
        self._first_slugs = [tuple(slug(n, "anna") for n in names) for names in cat.first_names]
        self._last_slugs = [tuple(slug(n, "nowak") for n in names) for names in cat.last_names]
        self._locale_cum = list(_cumulative(cat.locale_weights))
        # Recipients are visited in a seeded permuted order: lists are ranges of that order.
        self._perm_a = _coprime(self.size, 1 + h(seed, 1) % self.size)
        self._perm_b = h(seed, 2) % self.size
        self._perm_inv = pow(self._perm_a, -1, self.size) if self.size > 1 else 0
        self.lists_by_id = {lst.id: lst for lst in cat.lists}
        self.segments_by_id = {seg.id: seg for seg in cat.segments}
        self.messages_on = lru_cache(maxsize=256)(self._messages_on)
        # Exports look a message up per row: a C-level cache hit instead of a Python method call.
        self.message = lru_cache(maxsize=4096)(self._message)
        # Recent shards and their per-type views share one cache bounded by events, not by shards: the
        # busiest hours of a big world are many times the size of a night's (5M-row export at scale 4:
        # a cache of 18 shards grew the worker by 70 MB, this one by under 50).
        self._use_shard_cache(_EventBudgetCache(SHARD_CACHE_EVENTS))
        self._hour_base = lru_cache(maxsize=4096)(lambda hour: h(seed, 60, hour))
        self.message_base = lru_cache(maxsize=4096)(lambda message_id: h(seed, 61, message_id))  # message_guid's
        # h(seed, k, id, r) == mix(h(seed, k, id) ^ r): per-message and per-segment prefixes are cached,
        # so a per-recipient choice costs one mix instead of four (5 days: 1.07 -> 0.80 s profiled).
        self._prefix = lru_cache(maxsize=4096)(lambda kind, key: h(seed, kind, key))
        self.tags_by_id = {tag.id: tag for tag in cat.tags}
        self.life = Lifecycle(self)
        self.wave_plan = lru_cache(maxsize=256)(self._wave_plan)
        self._recipient_kinds = tuple(h(seed, k) for k in (10, 11, 12, 13, 14))
        # Every recipient built with the catalogue when they all fit the recipient cache (scale 13 and below):
        # an export meets most of them, and they were a third of a cold export's time (Netcore 6,800 rows at
        # scale 1: 5,000 recipients, 27 of 55 ms); rendering processes forked for an export inherit them
        # instead of each building them again (scale 12: 0.5 s of each one's 1.3 s). A row then looks its
        # recipient up in a tuple, without the LRU's bookkeeping. Beyond, recipients are built as met.
        self.recipient: Callable[[int], Recipient]
        if self.size <= RECIPIENT_CACHE:
            with _gc_paused():
                self.recipient = tuple(map(self._recipient, range(self.size))).__getitem__
        else:
            self.recipient = lru_cache(maxsize=RECIPIENT_CACHE)(self._recipient)

    # --- recipients ------------------------------------------------------------------------
    def _recipient(self, i: int) -> Recipient:
        # h(seed, k, i) as mix(h(seed, k) ^ i), only the chosen e-mail pattern built, the tuple built
        # positionally (in Recipient's field order) and birthdates looked up: 15 -> 7.6 -> 5.4 us each
        # (a day at scale 12 touches 60,000).
        kinds, i64 = self._recipient_kinds, i & MASK
        x = mix(kinds[0] ^ i64)
        loc = bisect.bisect_right(self._locale_cum, x % self._locale_cum[-1])
        first_names, last_names = self.catalog.first_names[loc], self.catalog.last_names[loc]
        fi, li = (x >> 8) % len(first_names), (x >> 20) % len(last_names)
        y = mix(kinds[1] ^ i64)
        created = _CREATED_0 + ((y >> 24) % (6 * 365)) * DAY_MS
        z = mix(kinds[2] ^ i64)
        cities = self.catalog.cities[loc]
        email, phone, custom_id = self._contact(i, x, z, loc, fi, li)
        return _new_tuple(Recipient, (
            i,  # index
            1_000_000 + i,  # subscriber_id
            email,
            phone,
            first_names[fi],
            last_names[li],
            custom_id,
            LOCALES[loc][1],  # country
            cities[(z >> 20) % len(cities)],
            ("female", "male", "female", "male", "")[(z >> 30) % 5],  # gender
            _birthdate((y >> 8) % 20_000),
            _DEVICE_BY_ROLL[y % 100],  # device
            f"{(z >> 3) % 223 + 1}.{(z >> 11) % 256}.{(z >> 19) % 256}.{(z >> 27) % 254 + 1}",  # ip
            (z >> 35) % 5000,  # loyalty_points
            (z >> 50) % 10 == 0,  # vip
            created + ((z >> 44) % 700) * DAY_MS,  # last_purchase_ms
            round(((z >> 13) % 500_000) / 100, 2),  # lifetime_value
            created,  # created_ms
            i % len(self.catalog.sections),  # section
        ))

    def _contact(self, i: int, x: int, z: int, loc: int, fi: int, li: int) -> tuple[str, str, str]:
        """A recipient's (email, phone, custom_id), from its hashes, locale and name choices (`_recipient`)."""
        fs, ls = self._first_slugs[loc][fi], self._last_slugs[loc][li]
        pattern = (x >> 32) % 4
        local = (f"{fs}.{ls}{i}" if pattern == 0 else f"{fs[0]}{ls}{i}" if pattern == 1 else f"{fs}{i}"
                 if pattern == 2 else f"{fs}_{ls}{i}")
        return (f"{local}@{FREE_MAIL[(x >> 36) % len(FREE_MAIL)]}", f"{LOCALES[loc][2]}{500_000_000 + z % 499_999_999}",
                "" if (z >> 40) % 5 == 0 else f"C-{(z >> 8) % 10**7:07d}")

    def contact(self, i: int) -> tuple[str, str, str]:
        """(email, phone, custom_id) of recipient i, as `recipient(i)` has them, without building the rest: what
        an export reads of a recipient it would build anew (600,000 recipients at scale 120 outgrow the
        recipient cache): 5.4 -> 2-3 us."""
        kinds, i64 = self._recipient_kinds, i & MASK
        x = mix(kinds[0] ^ i64)
        z = mix(kinds[2] ^ i64)
        loc = bisect.bisect_right(self._locale_cum, x % self._locale_cum[-1])
        fi, li = (x >> 8) % len(self.catalog.first_names[loc]), (x >> 20) % len(self.catalog.last_names[loc])
        return self._contact(i, x, z, loc, fi, li)

    def profile_key(self, i: int) -> str:
        """A recipient's APSIS profile export key: kept out of Recipient, which every export builds and only
        the profile export needs this from (a third of building a recipient)."""
        kinds, i64 = self._recipient_kinds, i & MASK
        return alnum(mix(kinds[3] ^ i64), 12) + alnum(mix(kinds[4] ^ i64), 8)

    def _permute(self, i: int) -> int:
        return (i * self._perm_a + self._perm_b) % self.size

    def list_member(self, list_id: int, position: int) -> int:
        """The recipient at `position` of a list (positions 0..size-1)."""
        lst = self.lists_by_id[list_id]
        return self._permute((lst.offset + position) % self.size)

    def in_list(self, list_id: int, recipient: int) -> bool:
        """Whether a recipient is on a list at all (whether they are a member at a time: `subscribed`)."""
        lst = self.lists_by_id[list_id]
        i = ((recipient - self._perm_b) * self._perm_inv) % self.size
        return (i - lst.offset) % self.size < lst.size

    def list_position(self, list_id: int, recipient: int) -> int:
        """A recipient's position in a list they are on (list_member's inverse)."""
        lst = self.lists_by_id[list_id]
        return (((recipient - self._perm_b) * self._perm_inv) % self.size - lst.offset) % self.size

    def subscribed(self, list_id: int, recipient: int, t: int) -> bool:
        """Whether a recipient is a member of a list at time t (their lifecycle: joined and not left)."""
        return self.life.subscribed(list_id, recipient, t)

    def send_time(self, msg: Message, recipient: int) -> int:
        """When `msg` is sent to a recipient of its list (its wave's pace), or -1 when outside every wave."""
        pos = self.list_position(msg.list_id, recipient)
        for wave in msg.waves:
            if wave.lo <= pos < wave.hi:
                return wave.start_ms + (pos - wave.lo) * wave.step_ms
        return -1

    def in_segment(self, segment_id: int, recipient: int) -> bool:
        seg = self.segments_by_id[segment_id]
        return mix(self._prefix(20, segment_id) ^ (recipient & MASK)) % 1000 < seg.share_permille

    def has_tag(self, tag_id: int, recipient: int) -> bool:
        tag = self.tags_by_id[tag_id]
        return mix(self._prefix(21, tag_id) ^ (recipient & MASK)) % 1000 < tag.share_permille

    def profile_sections(self, recipient: int) -> tuple[int, ...]:
        """The sections a recipient's profile has data in (APSIS One API: Request profile in segment event
        export, "sections"): their own section and the section of every list they are on, in index order. The
        address of an event is that of a profile in the event's section (APSIS One API: Request email event
        export, `address`), since a list's messages go to its members only."""
        return _SECTIONS_OF_MASK[self._section_masks()[recipient]]

    @cache  # noqa: B019 - one per world, which lives as long as the process
    def _section_masks(self) -> bytes:
        np = vector._numpy()
        masks = np.zeros(self.size, np.uint8)
        masks[np.arange(self.size)] = 1 << (np.arange(self.size) % len(self.catalog.sections))
        for lst in self.catalog.lists:
            positions = np.arange(lst.offset, lst.offset + lst.size, dtype=np.int64) % self.size
            masks[(positions * self._perm_a + self._perm_b) % self.size] |= 1 << lst.section
        return masks.tobytes()

    def recipients(self) -> Iterator[Recipient]:
        return (self.recipient(i) for i in range(self.size))

    # --- messages --------------------------------------------------------------------------
    def _messages_on(self, day: int) -> tuple[Message, ...]:
        """The messages whose sending starts on UTC day `day` (days since the Unix epoch)."""
        cat, seed = self.catalog, self.seed
        if not FIRST_DAY <= day <= LAST_DAY:
            return ()
        rng = random.Random(h(seed, 30, day))
        count = 2 + rng.randrange(4) + (1 if rng.random() < 0.4 else 0)
        out = []
        for k in range(count):
            mid = day * 8 + k
            channel = m.SMS if k == count - 1 and count > 2 and rng.random() < 0.5 else m.EMAIL
            lst = cat.lists[6] if channel == m.SMS else rng.choice(cat.lists)
            segment = rng.choice(cat.segments) if rng.random() < 0.3 else None
            sender = rng.choice(cat.senders)
            subject = rng.choice(cat.subjects)
            send_ms = day * DAY_MS + (7 + rng.randrange(13)) * HOUR_MS + rng.randrange(40 * 60_000)
            size = lst.size
            step = max(1, min(200, 600_000 // max(size, 1)))  # whole send within 10 minutes
            variations: list[Variation] = []
            winner = -1
            if channel == m.EMAIL and rng.random() < 0.2:
                n_var = 2 + (rng.random() < 0.3)
                for v in range(n_var):
                    variations.append(Variation(mid * 10 + v + 1, f"Group {'ABC'[v]}",
                                                rng.choice(cat.subjects) if v else subject))
                winner = rng.randrange(n_var)
                test = max(n_var, size // 5)
                waves = [Wave(send_ms, v * test // n_var, (v + 1) * test // n_var, v, step) for v in range(n_var)]
                waves.append(Wave(send_ms + (2 + rng.randrange(3)) * HOUR_MS, test, size, n_var, step))
            else:
                waves = [Wave(send_ms, 0, size, -1, step)]
            site = sender.domain.removeprefix("mail.")
            links = tuple(
                Link(mid * 100 + n + 1, f"https://www.{site}/{path}?utm_source={channel}&utm_campaign={mid}", title)
                for n, (path, title) in enumerate(rng.sample(cat.link_pages, 2 + rng.randrange(5)))
            )
            kind = ("Newsletter", "Campaign", "Offer", "Announcement")[rng.randrange(4)]
            tags = [("API", "D&D")[rng.randrange(2)], rng.choice(cat.message_tags[3:])]
            if variations:
                tags.append("A/B")
            out.append(Message(
                id=mid, day=day, channel=channel,
                name=f"{kind} {date(1970, 1, 1) + timedelta(days=day)}: {subject[:40]}",
                subject=subject if channel == m.EMAIL else f"SMS: {subject[:60]}",
                sender_name=sender.name, sender_email=sender.email, sender_domain=sender.domain,
                section=lst.section, list_id=lst.id, segment_id=segment.id if segment else 0,
                send_ms=send_ms, links=links, tags=tuple(tags), content_id=mid * 3 + 1,
                waves=tuple(waves), variations=tuple(variations), winner=winner,
                open_rate=0.24 + 0.10 * rng.random(), click_rate=0.11 + 0.13 * rng.random(),
                bounce_bp=100 + rng.randrange(200), xapiheader=f"cmp-{mid}-{alnum(h(seed, 31, mid), 6)}",
            ))
        return tuple(out)

    def _message(self, message_id: int) -> Message | None:
        day, k = divmod(message_id, 8)
        msgs = self.messages_on(day)
        return msgs[k] if k < len(msgs) else None

    def messages_between(self, start_ms: int, end_ms: int) -> Iterator[Message]:
        """Messages whose send starts in [start_ms, end_ms), oldest first."""
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            for msg in self.messages_on(day):
                if start_ms <= msg.send_ms < end_ms:
                    yield msg

    def message_span(self, msg: Message) -> tuple[int, int]:
        """[start, end) in epoch ms holding every event of a message: from its first wave's hour to
        ENGAGEMENT_HOURS after its last wave's (a leave it realises falls in the hour of its send)."""
        return (min(wave.hour for wave in msg.waves) * HOUR_MS,
                (max(wave.hour for wave in msg.waves) + ENGAGEMENT_HOURS) * HOUR_MS)

    def audience_member(self, msg: Message, position: int) -> int:
        """Recipient at a position of the message's audience, or -1 when a segment filters them out."""
        r = self.list_member(msg.list_id, position)
        if msg.segment_id and not self.in_segment(msg.segment_id, r):
            return -1
        return r

    def audience(self, msg: Message, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """(position, recipient) for audience positions lo..hi-1 that the segment keeps: audience_member
        inlined for the send loop (a third of the send loop's time)."""
        size, a, b = self.size, self._perm_a, self._perm_b
        offset = self.lists_by_id[msg.list_id].offset
        if not msg.segment_id:
            for pos in range(lo, hi):
                yield pos, ((offset + pos) % size * a + b) % size
            return
        base, share = self._prefix(20, msg.segment_id), self.segments_by_id[msg.segment_id].share_permille
        for pos in range(lo, hi):
            r = ((offset + pos) % size * a + b) % size
            if mix(base ^ r) % 1000 < share:
                yield pos, r

    def audience_rolls(self, msg: Message, lo: int, hi: int):
        """(positions, recipients, rolls) as numpy arrays: the audience `audience(msg, lo, hi)` lists, and
        the roll `send_outcome` decides on for each (vector.audience_rolls)."""
        segment = msg.segment_id
        return vector.audience_rolls(
            self.size, self._perm_a, self._perm_b, self.lists_by_id[msg.list_id].offset, lo, hi,
            self._prefix(20, segment) if segment else 0, self.segments_by_id[segment].share_permille if segment else 0,
            self._prefix(40, msg.id))

    def send_outcome(self, msg: Message, recipient: int) -> tuple[str, int]:
        """(bounced | delivered, bounce code) of a send to a member in the normal course of their lifecycle:
        a pure function of message and recipient (what the lifecycle makes of a send: `send_state`)."""
        x = mix(self._prefix(40, msg.id) ^ (recipient & MASK))
        if x % 10_000 < msg.bounce_bp:
            return m.BOUNCED, _BOUNCE_TABLE[(x >> 20) % len(_BOUNCE_TABLE)]
        return m.DELIVERED, 0

    def send_state(self, msg: Message, recipient: int, t: int) -> int:
        """lifecycle.ABSENT, NORMAL, DROPPED or REALISE: what a send of `msg` at t to a recipient of its
        audience becomes (lifecycle.py)."""
        return self.life.send_state(msg, recipient, t)

    def received(self, msg: Message, recipient: int, t: int) -> bool:
        """Whether a send of `msg` at t to a recipient of its audience was delivered (the reference of
        `wave_plan`): in the normal course of their lifecycle, or as the message whose unsubscribe or
        complaint realises their leave."""
        state = self.life.send_state(msg, recipient, t)
        if state == life.NORMAL:
            return self.send_outcome(msg, recipient)[0] == m.DELIVERED
        return state == life.REALISE and self.life.kind(self.life.cycle(recipient, t)[3]) in life.ENGAGED_KINDS

    def wave_arrays(self, msg: Message, wave: Wave, lo: int, hi: int):
        """(positions, recipients, rolls, states) as numpy arrays, of the wave's audience positions [lo, hi)
        that are sent something: `audience` and `send_outcome`'s roll (vector.audience_rolls) and
        `send_state` (lifecycle.send_states), ABSENT ones left out."""
        np = vector._numpy()
        positions, recipients, rolls = self.audience_rolls(msg, lo, hi)
        times = wave.start_ms + (positions.astype(np.int64) - wave.lo) * wave.step_ms
        states = self.life.send_states(msg, recipients, times)
        kept = states != life.ABSENT
        return positions[kept], recipients[kept], rolls[kept], states[kept]

    def _wave_plan(self, message_id: int, lo: int) -> bytes:
        """For the wave of a message starting at audience position lo: byte pos - lo is 1 where position pos
        was delivered (`received`), else 0. What the engagement of 48 hours reads, cached."""
        np = vector._numpy()
        msg = self.message(message_id)
        wave = next(wave for wave in msg.waves if wave.lo == lo)
        positions, recipients, rolls, states = self.wave_arrays(msg, wave, wave.lo, wave.hi)
        ok = (states == life.NORMAL) & (rolls >= msg.bounce_bp)
        for k in np.flatnonzero(states == life.REALISE).tolist():
            t = wave.start_ms + (int(positions[k]) - wave.lo) * wave.step_ms
            ok[k] = self.life.kind(self.life.cycle(int(recipients[k]), t)[3]) in life.ENGAGED_KINDS
        out = np.zeros(wave.hi - wave.lo, np.uint8)
        out[positions[ok].astype(np.int64) - wave.lo] = 1
        return out.tobytes()

    def delivery_ip(self, msg: Message, recipient: int) -> str:
        ips = self.catalog.delivery_ips
        return ips[mix(self._prefix(41, msg.id) ^ (recipient & MASK)) % len(ips)]

    # --- per-event identifiers shared by the vendor views -------------------------------------
    def correlation_id(self, event: Event) -> str:
        """The event's id at its source; a retried duplicate shares it (same hour and seq)."""
        return uuid_at(self._hour_base(event.ts // HOUR_MS), event.seq)

    def correlation_ids(self, hour: int) -> str:
        """The correlation ids of an hour's events at once (vector.py): seq s is [36 (s - 1), 36 s)."""
        return uuid_range(self._hour_base(hour), 1, len(self.shard(hour)))

    def correlation_ids_of(self, events: list[Event]) -> str:
        """correlation_id of each event at once (vector.py): event k's is [36 k, 36 k + 36)."""
        np = vector._numpy()
        bases = np.fromiter((self._hour_base(event.ts // HOUR_MS) for event in events), np.uint64, len(events))
        return vector.uuids(bases ^ np.fromiter(map(_SEQ, events), np.uint64, len(events)))

    def message_guid(self, message_id: int, recipient: int) -> str:
        """The GUID of one sent message (one message to one recipient)."""
        return uuid_at(self.message_base(message_id), recipient)

    def message_guids_hex(self, message_ids: np.ndarray, recipients: np.ndarray) -> str:
        """message_guid of each (message id, recipient) pair of two int64 arrays at once (vector.py), without
        dashes: pair k is [32 k, 32 k + 32)."""
        np = vector._numpy()
        unique, inverse = np.unique(message_ids, return_inverse=True)
        bases = np.array([self.message_base(mid) for mid in unique.tolist()], dtype=np.uint64)
        return vector.uuids(bases[inverse] ^ recipients.astype(np.uint64), dashes=False)

    def location(self, event: Event) -> str:
        """ISO 3166-1 alpha-2 country of an open or click: the recipient's country."""
        return self.recipient(event.recipient).country

    # --- events ----------------------------------------------------------------------------
    def events(self, start_ms: int, end_ms: int, types: Iterable[str] | None = None) -> Iterator[Event]:
        """Events with start_ms <= ts < end_ms in time order, shard by shard (memory: one shard)."""
        wanted = _wanted(types)
        for hour in range(start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS + 1):
            yield from self.hour_events(hour, start_ms, end_ms, wanted)

    def hour_events(self, hour: int, start_ms: int, end_ms: int,
                    types: Iterable[str] | None = None) -> tuple[Event, ...]:
        """The events of `events(start_ms, end_ms, types)` that fall in `hour`, as one tuple: for a reader
        going hour by hour, which then iterates a tuple instead of a generator (a Netcore download, callgrind:
        390 instructions a row fewer, of 23,000)."""
        wanted = _wanted(types)
        shard = self.shard(hour) if wanted is None else self.shard_of(hour, wanted)
        lo = 0 if start_ms <= hour * HOUR_MS else bisect.bisect_left(shard, start_ms, key=_ts)
        hi = len(shard) if end_ms >= (hour + 1) * HOUR_MS else bisect.bisect_left(shard, end_ms, key=_ts)
        return shard[lo:hi] if lo or hi < len(shard) else shard

    def sent_events(self, start_ms: int, end_ms: int) -> Iterator[Event]:
        """The SENT events of `events(start_ms, end_ms, (SENT,))` in the same order, but with seq and
        source_ts 0: for a reader that needs neither (ExpertSender Sends). Which recipients a message is sent
        to and when are hashes of the message and the recipient, so these events need none of the hour's
        random draws, which every other event of the hour shares (a heavy day at scale 12: 121,000 sends of
        280,000 events). A whole hour's are cached; part of an hour's is built alone (see send_windows)."""
        for hour in range(start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS + 1):
            whole_start, whole_end = start_ms <= hour * HOUR_MS, end_ms >= (hour + 1) * HOUR_MS
            if whole_start and whole_end:
                yield from self.sent_shard(hour)
            else:  # as `events` cuts a shard: from start_ms on, and before end_ms unless the hour ends first
                yield from self._sent_shard(hour, None if whole_start else start_ms, None if whole_end else end_ms)

    def send_windows(self, start_ms: int, end_ms: int, most: int) -> list[tuple[int, int]]:
        """hour_windows(start_ms, end_ms), an hour whose waves send to more than `most` cut into pieces of
        about `most` sends each: the blocks of a big Sends export, so that one busy hour does not keep one
        rendering process at work while the other waits (a day at scale 120: 347,000 of its 1M sends in one
        hour)."""
        out = []
        for lo, hi in hour_windows(start_ms, end_ms):
            waves = self._waves_of(lo // HOUR_MS)
            to_end = hi == (lo // HOUR_MS + 1) * HOUR_MS  # the hour's end: sends spilling past it are the hour's

            def sends_before(t: int, waves=waves) -> int:  # audience positions sent before t
                return sum(min(wave.hi - wave.lo, max(0, -(-(t - wave.start_ms) // wave.step_ms)))
                           for _, wave in waves)

            before_lo = sends_before(lo)
            total = sum(wave.hi - wave.lo for _, wave in waves) if to_end else sends_before(hi)
            pieces = max(1, math.ceil((total - before_lo) / most))
            cuts = [lo]
            for j in range(1, pieces):
                target = before_lo + (total - before_lo) * j // pieces
                t = bisect.bisect_left(range(lo, hi), target, key=sends_before) + lo
                if cuts[-1] < t < hi:
                    cuts.append(t)
            out.extend(pairwise([*cuts, hi]))
        return out

    def _recent_waves(self, hour: int) -> Iterator[tuple[Message, Wave]]:
        """The waves of the messages whose events can fall in `hour` (those of its day and the days before,
        within ENGAGEMENT_HOURS), in the order a shard is built from them."""
        day = hour // 24
        for d in range(day - (ENGAGEMENT_HOURS // 24) - 1, day + 1):
            for msg in self.messages_on(d):
                for wave in msg.waves:
                    yield msg, wave

    def _waves_of(self, hour: int) -> list[tuple[Message, Wave]]:
        """The waves that start sending in `hour`, in the order `_build_shard` visits them."""
        return [(msg, wave) for msg, wave in self._recent_waves(hour) if wave.hour == hour]

    def _use_shard_cache(self, cache: _EventBudgetCache) -> None:
        """Shards and their per-type views through `cache`."""
        self._cache = cache
        self.shard_of = cache.memo(self._shard_of)
        self.shard = cache.memo(self._shard)
        self.sent_shard = cache.memo(self._sent_shard)

    def export_work(self, start_ms: int, end_ms: int, rows: float = 0) -> float:
        """Roughly how many events an export of [start_ms, end_ms) touches: its estimated rows, plus the
        events of the hours not generated yet (what decides whether it is rendered on several cores)."""
        hours = range(start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS + 1) if end_ms > start_ms else range(0)
        missing = sum(1 for hour in hours if not self._cache.holds("_shard", hour))
        return rows + missing * EVENTS_PER_HOUR * self.scale

    def _shard_of(self, hour: int, types: frozenset[str]) -> tuple[Event, ...]:
        """The hour's events of some types: cached beside the shard, so that a query for a rare type
        (a day of ExpertSender complaints) does not scan the whole day again (references only)."""
        return tuple([e for e in self.shard(hour) if e.type in types])

    def _shard(self, hour: int) -> tuple[Event, ...]:
        """All events of one hour, sorted by time. Depends only on (seed, scale, hour)."""
        # The builder makes no reference cycles, so the cyclic GC has nothing to find in it, yet its
        # passes over the new events cost 40% of generation with shards cached (scale 12 day: 0.86-1.7 s
        # with it, 0.45 s without): it is paused while one shard is built.
        with _gc_paused():
            return self._build_shard(hour)

    def _sent_shard(self, hour: int, from_ms: int | None = None, before_ms: int | None = None) -> tuple[Event, ...]:
        """The SENT events of `_shard(hour)` (those from from_ms on and before before_ms, when given), seq and
        source_ts 0: built as `_build_shard` visits the waves sent in the hour and as `_ShardBuilder.send`
        decides (a send neither dropped nor invalid is SENT at its wave's pace), sorted as the shard is, so
        that ties keep the shard's order."""
        out: list[Event] = []
        append, sent = out.append, m.SENT
        for msg, wave in self._waves_of(hour):
            base, step = wave.start_ms - wave.lo * wave.step_ms, wave.step_ms  # position p is sent at base + p step
            lo = wave.lo if from_ms is None else max(wave.lo, -(-(from_ms - base) // step))
            hi = wave.hi if before_ms is None else min(wave.hi, -(-(before_ms - base) // step))
            if lo >= hi:
                continue
            # a send neither dropped nor invalid: the normal course, or a leave other than an invalid address
            positions, recipients, _, states = self.wave_arrays(msg, wave, lo, hi)
            kept = states == life.NORMAL
            for k in (states == life.REALISE).nonzero()[0].tolist():
                t = base + int(positions[k]) * step
                kept[k] = self.life.kind(self.life.cycle(int(recipients[k]), t)[3]) != life.INVALID
            mid, channel, variation = msg.id, msg.channel, wave.variation
            for pos, r in zip(positions[kept].tolist(), recipients[kept].tolist()):
                append(_new_tuple(Event, (base + pos * step, sent, mid, r, 0, 0, channel, variation, -1, "", "", 0, "",
                                          0, 0, False)))
        out.sort(key=_SHARD_ORDER)
        return tuple(out)

    def _build_shard(self, hour: int) -> tuple[Event, ...]:
        gen = _ShardBuilder(self, hour)
        for msg, wave in self._recent_waves(hour):
            k = hour - wave.hour
            if k == 0:
                gen.sends(msg, wave)
            if 0 <= k < ENGAGEMENT_HOURS:
                gen.engagement(msg, wave, k)
        gen.list_activity()
        return gen.finish()


SHARD_CACHE_EVENTS = 100_000  # about three days at scale 1; ~25 MB
RECIPIENT_CACHE = 1 << 16  # recipients kept built (5,000 per unit of scale)
KEEP_SHARDS = 2  # whatever the budget: the hour at hand and its typed view (correlation_ids reads the shard)
EVENTS_PER_HOUR = 1_400  # all types at scale 1, averaged over days (a day of seed 42: 34k)


def _wanted(types: Iterable[str] | None) -> frozenset[str] | None:
    """The event types to read, None for all: every type reads the shard itself, not a second cache entry."""
    wanted = frozenset(types) if types is not None else None
    return None if wanted is not None and wanted.issuperset(m.EVENT_TYPES) else wanted


def hour_windows(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """[start_ms, end_ms) cut at hour boundaries: the blocks an export is rendered in (one shard each)."""
    cuts = [start_ms, *range((start_ms // HOUR_MS + 1) * HOUR_MS, end_ms, HOUR_MS), end_ms]
    return [(lo, hi) for lo, hi in pairwise(cuts) if lo < hi]


class _EventBudgetCache:
    """An LRU of shards (tuples of events) whose total length stays within a budget of events."""

    def __init__(self, budget: int, inherited: _EventBudgetCache | None = None):
        self.budget = budget
        self._items: OrderedDict[tuple, tuple[Event, ...]] = OrderedDict()
        # A forked process's view of its parent's cache: read, never changed (see _one_pass).
        self._inherited = inherited._items if inherited is not None else {}
        self._events = 0
        self._lock = threading.Lock()
        _CACHES.add(self)

    def _after_fork(self) -> None:
        # A process forked to render blocks of an export (emulator.parallel) while another thread held the
        # lock would otherwise wait for it forever.
        self._lock = threading.Lock()

    def memo(self, build):
        """`build(*key)` through the cache: a function with the same arguments and a cache_clear."""
        def cached(*key):
            full = (build.__name__, *key)
            with self._lock:
                found = self._items.get(full)
                if found is not None:
                    self._items.move_to_end(full)
                    return found
                found = self._inherited.get(full)
                if found is not None:
                    return found
            value = build(*key)
            with self._lock:
                if full not in self._items:
                    self._items[full] = value
                    self._events += len(value)
                while self._events > self.budget and len(self._items) > KEEP_SHARDS:
                    _, old = self._items.popitem(last=False)
                    self._events -= len(old)
            return value

        cached.cache_clear = self.clear
        return cached

    def holds(self, *key) -> bool:
        with self._lock:
            return key in self._items or key in self._inherited

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._events = 0


_CACHES: weakref.WeakSet[_EventBudgetCache] = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [cache._after_fork() for cache in list(_CACHES)])


@parallel.in_children
def _one_pass() -> None:
    """A rendering process (emulator.parallel) renders each hour once: each world gets a shard cache of the
    hour at hand only, reading the worker's shards as they are. The worker's cache stays referenced and
    untouched: freeing its shards here would write to every page they hold, and copy it."""
    scale = max((world.scale for world in _WORLDS.values()), default=1.0)
    parallel.set_child_memory(parallel.RETIRE_PRIVATE_MB * max(1.0, scale / 4))  # its busiest hour grows so
    for world in _WORLDS.values():
        world._inherited_caches = (world.shard, world.shard_of, world._cache)
        world._use_shard_cache(_EventBudgetCache(0, inherited=world._cache))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while acyclic tuples are built by the hundred thousand."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _ts(event: Event) -> int:
    return event.ts


def _cumulative(weights: Iterable[int]) -> Iterator[int]:
    total = 0
    for w in weights:
        total += w
        yield total


def _coprime(n: int, start: int) -> int:
    a = max(1, start)
    while math.gcd(a, n) != 1:
        a += 1
    return a


class _ShardBuilder:
    """Collects one hour's events. Per-event choices use one seeded random.Random for the hour."""

    def __init__(self, world: World, hour: int):
        self.w = world
        self.hour = hour
        self.start = hour * HOUR_MS
        self.end = self.start + HOUR_MS  # exclusive
        self.rng = random.Random(h(world.seed, 50, hour))
        self.below = _below(self.rng)
        self.out: list[Event] = []
        self.seq = 0

    def _add(self, ts, typ, msg_id, r, channel, variation=-1, link=-1, device="", ip="", bounce=0, reason="",
             list_id=0, goal=0, retry=False, source_lag=True):
        self.seq += 1
        rng = self.rng
        if ts < Y2020_MS and rng.random() < 0.8:
            source = 0  # event_time was introduced at the beginning of 2020 (APSIS seed)
        else:
            roll = rng.random()
            if roll < 0.002:
                source = 0  # the source did not give a time
            elif roll < 0.003:
                source = self.below(86_400_000)  # the source sent 0 as seconds: a 1970 date
            else:
                source = ts - self.below(900) if source_lag else ts
        # tuple.__new__ skips the namedtuple's Python-level __new__ (same object, a third of _add's time).
        ev = _new_tuple(Event, (ts, typ, msg_id, r, self.seq, source, channel, variation, link, device, ip,
                                bounce, reason, list_id, goal, False))
        self.out.append(ev)
        if retry and rng.random() < DUPLICATE_RATE:
            # A retried delivery of the same event: same seq, so the same correlation id (APSIS seed).
            self.out.append(ev._replace(ts=min(self.end - 1, ts + 1 + self.below(3000)), duplicate=True))

    def sends(self, msg: Message, wave: Wave) -> None:
        """The wave's sends. A delivered send in the normal course of the recipient's lifecycle (SENT then
        DELIVERED, 95% of all events) is built inline with exactly the draws `send` makes through `_add`;
        anything else goes through `send` (tested equal to `send` for every recipient)."""
        w = self.w
        positions, recipients, rolls, states = (array.tolist() for array in
                                                w.wave_arrays(msg, wave, wave.lo, wave.hi))
        if wave.start_ms < Y2020_MS:  # a wave lies within one day: wholly before 2020 or wholly after
            for pos, r, roll, state in zip(positions, recipients, rolls, states):
                self.send(msg, wave, pos, r, state, roll)
            return
        random, getrandbits, below = self.rng.random, self.rng.getrandbits, self.below
        append = self.out.append
        end1 = self.end - 1
        mid, channel, variation = msg.id, msg.channel, wave.variation
        start, lo, step = wave.start_ms, wave.lo, wave.step_ms
        failed = msg.bounce_bp
        sent, delivered, normal = m.SENT, m.DELIVERED, life.NORMAL
        for pos, r, roll, state in zip(positions, recipients, rolls, states):
            if roll < failed or state != normal:
                self.send(msg, wave, pos, r, state, roll)
                continue
            sent_ms = start + (pos - lo) * step
            # _add(sent_ms, SENT, source_lag=False)
            self.seq = seq = self.seq + 1
            roll = random()
            source = sent_ms if roll >= 0.003 else 0 if roll < 0.002 else below(86_400_000)
            append(_new_tuple(Event, (sent_ms, sent, mid, r, seq, source, channel, variation, -1, "", "", 0, "",
                                      0, 0, False)))
            d = getrandbits(16)  # below(60_000)
            while d >= 60_000:
                d = getrandbits(16)
            later = sent_ms + 1000 + d
            later = min(later, end1)
            # _add(later, DELIVERED, retry=True)
            self.seq = seq = seq + 1
            roll = random()
            if roll >= 0.003:
                d = getrandbits(10)  # below(900)
                while d >= 900:
                    d = getrandbits(10)
                source = later - d
            else:
                source = 0 if roll < 0.002 else below(86_400_000)
            ev = _new_tuple(Event, (later, delivered, mid, r, seq, source, channel, variation, -1, "", "", 0,
                                    "", 0, 0, False))
            append(ev)
            if random() < DUPLICATE_RATE:
                append(ev._replace(ts=min(end1, later + 1 + below(3000)), duplicate=True))

    def send(self, msg: Message, wave: Wave, pos: int, r: int, state: int, roll: int) -> None:
        """One recipient's send in the lifecycle `state` (lifecycle.send_state) with the outcome `roll`
        (send_outcome's): the reference for the inlined loop in `sends`."""
        sent_ms = wave.start_ms + (pos - wave.lo) * wave.step_ms
        if state == life.ABSENT:
            return
        if state == life.DROPPED:  # suppressed: Netcore shows it dropped, the others no send
            self._add(sent_ms, m.DROPPED, msg.id, r, msg.channel, wave.variation, source_lag=False)
            return
        if state == life.REALISE:
            self.leave(msg, wave, r, sent_ms)
            return
        self._add(sent_ms, m.SENT, msg.id, r, msg.channel, wave.variation, source_lag=False)
        later = min(self.end - 1, sent_ms + 1000 + self.below(60_000))
        if roll < msg.bounce_bp:
            self._add(later, m.BOUNCED, msg.id, r, msg.channel, wave.variation, bounce=self.w.send_outcome(msg, r)[1])
        else:
            self._add(later, m.DELIVERED, msg.id, r, msg.channel, wave.variation, retry=True)

    def leave(self, msg: Message, wave: Wave, r: int, sent_ms: int) -> None:
        """The send that realises a recipient's leave (lifecycle.py), with everything it causes within the hour:
        a permanent bounce or an invalid address, then the platform's removal from the list; or a delivery,
        an open (a click, for some unsubscribes), then the complaint and its removal, or the unsubscribe."""
        w, v, channel, mid, end1 = self.w, wave.variation, msg.channel, msg.id, self.end - 1
        x = w.life.cycle(r, sent_ms)[3]
        kind = w.life.kind(x)
        if kind == life.INVALID:
            self._add(sent_ms, m.INVALID, mid, r, channel, v, source_lag=False)
            self._add(min(end1, sent_ms + 1000), m.UNSUBSCRIBED, mid, r, channel, v, reason="UserUnknown",
                      list_id=msg.list_id)
            return
        self._add(sent_ms, m.SENT, mid, r, channel, v, source_lag=False)
        later = min(end1, sent_ms + 1000 + self.below(60_000))
        if kind == life.BOUNCE:
            code = w.life.bounce_code(x)
            self._add(later, m.BOUNCED, mid, r, channel, v, bounce=code)
            # ExpertSender removal reasons: "UserUnknown" for an address that does not exist, else "Bounce"
            self._add(min(end1, later + 1000), m.UNSUBSCRIBED, mid, r, channel, v,
                      reason="UserUnknown" if code == 2001 else "Bounce", list_id=msg.list_id)
            return
        self._add(later, m.DELIVERED, mid, r, channel, v, retry=True)
        person = w.recipient(r)
        t = min(end1, later + 30_000 + self.below(1_800_000))
        self._add(t, m.OPENED, mid, r, channel, v, device=person.device, ip=person.ip, retry=True)
        if kind == life.COMPLAINT:
            t = min(end1, t + 5000 + self.below(600_000))
            self._add(t, m.COMPLAINED, mid, r, channel, v)
            # A complaint removes the subscriber (ExpertSender removal reason "Spam").
            self._add(min(end1, t + 1000), m.UNSUBSCRIBED, mid, r, channel, v, reason="Spam", list_id=msg.list_id)
            return
        if self.rng.random() < 0.5:  # through the link, or the unsubscribe link alone
            t = min(end1, t + 3000 + self.below(300_000))
            self._add(t, m.CLICKED, mid, r, channel, v, link=self.below(len(msg.links)), device=person.device,
                      ip=person.ip, retry=True)
        self._add(min(end1, t + 5000 + self.below(120_000)), m.UNSUBSCRIBED, mid, r, channel, v, ip=person.ip,
                  reason="Subscriber", list_id=msg.list_id)

    def engagement(self, msg: Message, wave: Wave, k: int) -> None:
        """Opens and what follows them, k hours after the wave was sent, for recipients the wave delivered to
        (`wave_plan`). The open's `_add` is inlined with the same draws (tested against `received` and
        `_add`; engagement was 37% of generation)."""
        w, rng = self.w, self.rng
        random, below = rng.random, self.below
        size = wave.hi - wave.lo
        rate = msg.open_rate if msg.channel == m.EMAIL else msg.click_rate * 0.5
        expected = size * rate * ENGAGEMENT_WEIGHTS[k]
        count = int(expected) + (random() < expected - int(expected))
        if not count:
            return
        n, a, b = w.size, w._perm_a, w._perm_b
        offset = w.lists_by_id[msg.list_id].offset
        delivered_at = w.wave_plan(msg.id, wave.lo)
        append, end1 = self.out.append, self.end - 1
        mid, channel, email, opened = msg.id, msg.channel, msg.channel == m.EMAIL, m.OPENED
        for _ in range(count):
            pos = wave.lo + below(size)
            if not delivered_at[pos - wave.lo]:
                continue  # not delivered: nobody opens it
            r = ((offset + pos) % n * a + b) % n  # audience_member(msg, pos)
            if k == 0:  # after the delivery, which follows the send within DELIVERY_DELAY_MAX
                earliest = wave.start_ms + (pos - wave.lo) * wave.step_ms + DELIVERY_DELAY_MAX + 1000
                if earliest >= self.end:
                    continue
                t = earliest + below(self.end - earliest)
            else:
                t = self.start + below(HOUR_MS)
            person = w.recipient(r)
            device = person.device if random() < 0.8 else DEVICES[below(3)]
            ip = person.ip if random() < 0.7 else f"{rng.randrange(1, 223)}.{below(256)}." \
                                                  f"{below(256)}.{rng.randrange(1, 255)}"
            v = wave.variation
            if email:
                # _add(t, OPENED, device=device, ip=ip, retry=True), inlined
                self.seq = seq = self.seq + 1
                if t < Y2020_MS and random() < 0.8:
                    source = 0
                else:
                    roll = random()
                    source = t - below(900) if roll >= 0.003 else 0 if roll < 0.002 else below(86_400_000)
                ev = _new_tuple(Event, (t, opened, mid, r, seq, source, channel, v, -1, device, ip, 0, "", 0, 0,
                                        False))
                append(ev)
                if random() < DUPLICATE_RATE:
                    append(ev._replace(ts=min(end1, t + 1 + below(3000)), duplicate=True))
                clicked = random() < msg.click_rate
            else:
                clicked = True
            self.after_open(msg, r, v, t, device, ip, clicked)

    def after_open(self, msg: Message, r: int, v: int, t: int, device: str, ip: str, clicked: bool) -> None:
        """What may follow an open at `t` (or an SMS link visit): the click and a goal. Unsubscribes and
        complaints come from the recipient's lifecycle (`leave`)."""
        w, rng = self.w, self.rng
        if clicked:
            t = min(self.end - 1, t + 3000 + self.below(300_000))
            link = self.below(len(msg.links))
            self._add(t, m.CLICKED, msg.id, r, msg.channel, v, link=link, device=device, ip=ip, retry=True)
            if rng.random() < GOAL_PER_CLICK:
                goal = rng.choice(w.catalog.goals)
                self._add(min(self.end - 1, t + 60_000 + self.below(600_000)), m.GOAL, msg.id, r,
                          msg.channel, v, ip=ip, goal=goal.id)

    def list_activity(self) -> None:
        """Subscriptions and confirmations of double opt-in lists (lifecycle.joins), in time order."""
        w = self.w
        lists = w.catalog.lists
        for t, typ, r, i in sorted(w.life.joins(self.start, self.end)):
            self._add(t, typ, 0, r, m.SMS if i == SMS_LIST else m.EMAIL, ip=w.recipient(r).ip,
                      list_id=lists[i].id)

    def finish(self) -> tuple[Event, ...]:
        self.out.sort(key=_SHARD_ORDER)
        return tuple(self.out)


# Sorted by ts alone, stably: ties stay in insertion order, which is (seq, duplicate) order since seq grows
# with every event and a duplicate follows its original. An int key instead of the (ts, seq, duplicate)
# tuple: sorting 67k events 77 -> 4 ms (it was a third of generation).
_SHARD_ORDER = itemgetter(0)
_SEQ = attrgetter("seq")
_new_tuple = tuple.__new__


def _below(rng: random.Random):
    """rng.randrange(n) for n > 0 without its argument handling: the same draws, a third of the time."""
    getrandbits = rng.getrandbits

    def below(n: int) -> int:
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return r

    return below


_SECTIONS_OF_MASK = tuple(tuple(i for i in range(8) if mask >> i & 1) for mask in range(256))
_WORLDS: dict[tuple[int, float], World] = {}


def get_world(seed: int, scale: float = 1.0) -> World:
    """The world of a seed, built once per process and cached."""
    key = (seed, scale)
    world = _WORLDS.get(key)
    if world is None:
        world = _WORLDS[key] = World(seed, scale)
    return world
