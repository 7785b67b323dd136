"""Campaigns and audiences: the messages of each day (lists, segments, senders, links, split-test waves), who
a message's audience is, and what a send to each of them becomes (send_outcome, and the lifecycle's
send_state), for a whole wave at once (wave_arrays, wave_plan)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

from . import lifecycle as life
from . import model as m
from . import vector
from .hashing import MASK, alnum, h, mix, uuid_at
from .hours import ENGAGEMENT_HOURS
from .model import DAY_MS, HOUR_MS, Link, Message, Variation, Wave

if TYPE_CHECKING:
    import numpy as np

FIRST_DAY = (date.min - date(1970, 1, 1)).days  # the calendar the world can name (years 1 to 9999)
LAST_DAY = (date.max - date(1970, 1, 1)).days - 1

# Bounce codes from APSIS One API: Request email event export that do not end an address, with the rough share
# each has among such bounces. The permanent ones (2000-2999, "Invalid address (permanent)") end a recipient's
# lifecycle and come from lifecycle.py only.
BOUNCE_CODES = ((3001, 24), (3002, 10), (3003, 7), (1000, 10), (1002, 7), (4003, 8), (4007, 5), (4008, 5),
                (4009, 4), (5000, 10), (9999, 5))
_BOUNCE_TABLE = [code for code, share in BOUNCE_CODES for _ in range(share)]


def bounce_kind(code: int) -> str:
    """hard, soft or transient, from the APSIS code ranges: hard is "2000-2999 Invalid address (permanent)";
    "1000-1999 Rejected by recipient's server" and "3000-3999 Address is temporarily unavailable" are soft."""
    if 2000 <= code < 3000:
        return "hard"
    if 1000 <= code < 2000 or 3000 <= code < 4000 or 5000 <= code < 6000:
        return "soft"
    return "transient"


class Campaigns:
    """The campaign rules of World (a part of its class, by concept)."""

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
        was delivered (`received`), else 0. What the engagement of 48 hours reads, cached (`wave_plan`; the
        send hour caches it from the arrays it sends from)."""
        msg = self.message(message_id)
        wave = next(wave for wave in msg.waves if wave.lo == lo)
        return self.plan_of(msg, wave, *self.wave_arrays(msg, wave, wave.lo, wave.hi))

    def plan_of(self, msg: Message, wave: Wave, positions, recipients, rolls, states) -> bytes:
        """_wave_plan from the wave's `wave_arrays` over its whole audience."""
        np = vector._numpy()
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

    def send_time(self, msg: Message, recipient: int) -> int:
        """When `msg` is sent to a recipient of its list (its wave's pace), or -1 when outside every wave."""
        pos = self.list_position(msg.list_id, recipient)
        for wave in msg.waves:
            if wave.lo <= pos < wave.hi:
                return wave.start_ms + (pos - wave.lo) * wave.step_ms
        return -1

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
