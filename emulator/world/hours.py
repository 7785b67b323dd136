"""Hour events: the events of any window, generated one shard per hour, each shard a pure function of
(seed, scale, hour), so that `events(a, c) == events(a, b) + events(b, c)` for any cut b and a window costs
only its own events (and a bounded look-back: the engagement of the last ENGAGEMENT_HOURS' waves).

An hour's shard holds the sends of the waves that start in it (with what the lifecycle makes of each, and
the events a leave causes within the hour), the opens and clicks of the deliveries of the hours before,
and the subscriptions and confirmations of the hour. Event times never precede the send of their message;
opens and clicks follow its delivery."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Iterator
from itertools import pairwise
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

from . import lifecycle as life
from . import model as m
from . import vector
from .caches import _EventBudgetCache, _gc_paused
from .catalog import DEVICES
from .hashing import h, uuid_at
from .model import HOUR_MS, Y2020_MS, Event, Message, Wave
from .vector import uuid_range

if TYPE_CHECKING:
    from .world import World

ENGAGEMENT_HOURS = 48  # opens and clicks happen within two days of the send
# Share of a delivery's engagement falling k hours after the send (decays with a 3-hour constant).
_RAW = [math.exp(-k / 3.0) for k in range(ENGAGEMENT_HOURS)]
ENGAGEMENT_WEIGHTS = tuple(w / sum(_RAW) for w in _RAW)
GOAL_PER_CLICK = 0.05
DELIVERY_DELAY_MAX = 61_000  # a delivery follows its send within 1 to 61 s
SMS_LIST = life.SMS_LIST
# retried events that repeat a correlation id (a quirk APSIS One API: Request email event export names)
DUPLICATE_RATE = 0.002
EVENTS_PER_HOUR = 1_400  # all types at scale 1, averaged over days (a day of seed 42: 34k)


class Hours:
    """The hour-event rules of World (a part of its class, by concept)."""

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

    # --- events ----------------------------------------------------------------------------
    def events(self, start_ms: int, end_ms: int, types: Iterable[str] | None = None) -> Iterator[Event]:
        """Events with start_ms <= ts < end_ms in time order, shard by shard (memory: one shard)."""
        wanted = _wanted(types)
        for hour in range(start_ms // HOUR_MS, (end_ms - 1) // HOUR_MS + 1):
            yield from self.hour_events(hour, start_ms, end_ms, wanted)

    def hour_events(self, hour: int, start_ms: int, end_ms: int,
                    types: Iterable[str] | None = None) -> tuple[Event, ...]:
        """The events of `events(start_ms, end_ms, types)` that fall in `hour`, as one tuple: for a reader
        going hour by hour, which then iterates a tuple instead of a generator."""
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
        # passes over the new events are a large share of generation: it is paused while one shard is built.
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




def _wanted(types: Iterable[str] | None) -> frozenset[str] | None:
    """The event types to read, None for all: every type reads the shard itself, not a second cache entry."""
    wanted = frozenset(types) if types is not None else None
    return None if wanted is not None and wanted.issuperset(m.EVENT_TYPES) else wanted


def hour_windows(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """[start_ms, end_ms) cut at hour boundaries: the blocks an export is rendered in (one shard each)."""
    cuts = [start_ms, *range((start_ms // HOUR_MS + 1) * HOUR_MS, end_ms, HOUR_MS), end_ms]
    return [(lo, hi) for lo, hi in pairwise(cuts) if lo < hi]


def _ts(event: Event) -> int:
    return event.ts


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
            # event_time was introduced at the beginning of 2020 (APSIS One API: Request email event export)
            source = 0
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
            # A retried delivery of the same event: same seq, so the same correlation id (APSIS One API:
            # Request email event export).
            self.out.append(ev._replace(ts=min(self.end - 1, ts + 1 + self.below(3000)), duplicate=True))

    def sends(self, msg: Message, wave: Wave) -> None:
        """The wave's sends. A delivered send in the normal course of the recipient's lifecycle (SENT then
        DELIVERED, 95% of all events) is built inline with exactly the draws `send` makes through `_add`;
        anything else goes through `send` (tested equal to `send` for every recipient)."""
        w = self.w
        arrays = w.wave_arrays(msg, wave, wave.lo, wave.hi)
        w.wave_plan.put((msg.id, wave.lo), w.plan_of(msg, wave, *arrays))  # what its engagement reads
        positions, recipients, rolls, states = (array.tolist() for array in arrays)
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
        `_add`; engagement is a large share of generation)."""
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
# tuple: the same order, sorted far faster.
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
