"""Recipients: who they are (built from their hashes and the catalogue's pools), the lists, segments, tags
and sections they are on. When they are members of a list: lifecycle.py."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from datetime import date
from functools import cache

from . import vector
from .catalog import DEVICE_WEIGHTS, DEVICES, FREE_MAIL, LOCALES
from .hashing import MASK, alnum, mix
from .model import DAY_MS, Y2020_MS, Event, Recipient

# A recipient's device by a roll of 0..99, in DEVICE_WEIGHTS shares (a table instead of a loop).
_DEVICE_BY_ROLL = tuple(dev for dev, weight in zip(DEVICES, DEVICE_WEIGHTS) for _ in range(weight))
_BORN_1950 = date(1950, 1, 1).toordinal()
_CREATED_0 = Y2020_MS - 4 * 365 * DAY_MS


@cache
def _birthdate(day: int) -> str:
    """YYYY-MM-DD of a birthdate, `day` days after 1950-01-01 (20,000 of them at most)."""
    return date.fromordinal(_BORN_1950 + day).isoformat()
_SECTIONS_OF_MASK = tuple(tuple(i for i in range(8) if mask >> i & 1) for mask in range(256))


class Recipients:
    """The recipient rules of World (a part of its class, by concept)."""

    def _recipient(self, i: int) -> Recipient:
        # h(seed, k, i) as mix(h(seed, k) ^ i), only the chosen e-mail pattern built, the tuple built
        # positionally (in Recipient's field order) and birthdates looked up: a day at scale 12 builds
        # 60,000 of them.
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
        recipient cache), at about half the cost of building them."""
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

    def location(self, event: Event) -> str:
        """ISO 3166-1 alpha-2 country of an open or click: the recipient's country."""
        return self.recipient(event.recipient).country


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


_new_tuple = tuple.__new__
