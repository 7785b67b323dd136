"""One seeded world of email activity, and its events for any time window.

The events of a window are a pure function of (seed, scale, window). They are generated lazily, one
shard per hour of time, each shard independent of every other, so that
`events(a, c) == events(a, b) + events(b, c)` for any cut b and a window costs only its own events.

What a send to a recipient becomes is a function of the message, the recipient and the recipient's
lifecycle (lifecycle.py: whether they are a member of the list then, or have left the account): whether
it was dropped, invalid, bounced or delivered is decided for a whole wave at once (`wave_plan`), so an
open generated for hour 30 after the send is only ever given to a recipient the send hour delivered to.
Event times never precede the send of their message; opens and clicks follow its delivery.

The rules live by concept: recipients.py (who they are, their lists and sections), lifecycle.py (when
they are members), campaigns.py (messages, audiences, what a send becomes), hours.py (an hour's events),
caches.py; this module puts them together as one World per (seed, scale).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from .. import parallel
from .caches import RECIPIENT_CACHE, SHARD_CACHE_EVENTS, KeyedCache, _EventBudgetCache, _gc_paused
from .campaigns import BOUNCE_CODES, FIRST_DAY, LAST_DAY, Campaigns, bounce_kind  # noqa: F401
from .catalog import Catalog, build_catalog, slug
from .hashing import h
from .hours import (  # noqa: F401
    DELIVERY_DELAY_MAX,
    ENGAGEMENT_HOURS,
    ENGAGEMENT_WEIGHTS,
    EVENTS_PER_HOUR,
    Hours,
    _ShardBuilder,
    hour_windows,
)
from .lifecycle import PLATFORM_REMOVALS, REMOVAL_REASONS, Lifecycle  # noqa: F401
from .model import DAY_MS, HOUR_MS, Y2020_MS, Recipient  # noqa: F401
from .recipients import Recipients, _coprime, _cumulative

BASE_RECIPIENTS = 5_000  # recipients at scale 1; volume per hour follows scale


class World(Recipients, Campaigns, Hours):
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
        # busiest hours of a big world are many times the size of a night's.
        self._use_shard_cache(_EventBudgetCache(SHARD_CACHE_EVENTS))
        self._hour_base = lru_cache(maxsize=4096)(lambda hour: h(seed, 60, hour))
        self.message_base = lru_cache(maxsize=4096)(lambda message_id: h(seed, 61, message_id))  # message_guid's
        # h(seed, k, id, r) == mix(h(seed, k, id) ^ r): per-message and per-segment prefixes are cached,
        # so a per-recipient choice costs one mix instead of four.
        self._prefix = lru_cache(maxsize=4096)(lambda kind, key: h(seed, kind, key))
        self.tags_by_id = {tag.id: tag for tag in cat.tags}
        self.life = Lifecycle(self)
        self.wave_plan = KeyedCache(self._wave_plan, 64)  # the waves of three days engage into an hour
        self._recipient_kinds = tuple(h(seed, k) for k in (10, 11, 12, 13, 14))
        # Every recipient built with the catalogue when they all fit the recipient cache (scale 13 and below):
        # an export meets most of them, and building them is a large share of a cold export's time;
        # rendering processes forked for an export inherit them instead of each building them again. A row
        # then looks its recipient up in a tuple, without the LRU's bookkeeping. Beyond, recipients are built
        # as met.
        self.recipient: Callable[[int], Recipient]
        if self.size <= RECIPIENT_CACHE:
            with _gc_paused():
                self.recipient = tuple(map(self._recipient, range(self.size))).__getitem__
        else:
            self.recipient = lru_cache(maxsize=RECIPIENT_CACHE)(self._recipient)



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


_WORLDS: dict[tuple[int, float], World] = {}


def get_world(seed: int, scale: float = 1.0) -> World:
    """The world of a seed, built once per process and cached."""
    key = (seed, scale)
    world = _WORLDS.get(key)
    if world is None:
        world = _WORLDS[key] = World(seed, scale)
    return world
