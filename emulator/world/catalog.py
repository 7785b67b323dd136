"""The Faker-built catalogue of one world: name pools, lists, segments, tags, sections, goals, domains.

Built once per seed (about a quarter of a second); everything per event draws from these pools with a
seeded `random.Random` or a hash, never Faker per row.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from faker import Faker

from .hashing import alnum, h, uuid_from

# (Faker locale, ISO 3166-1 alpha-2 country, phone country code, weight): APSIS is Nordic, ExpertSender
# Polish, Netcore Indian, so their home markets weigh most.
LOCALES = (
    ("sv_SE", "SE", "46", 14), ("pl_PL", "PL", "48", 12), ("en_IN", "IN", "91", 10), ("hi_IN", "IN", "91", 4),
    ("de_DE", "DE", "49", 10), ("en_US", "US", "1", 10), ("en_GB", "GB", "44", 8), ("fr_FR", "FR", "33", 6),
    ("es_ES", "ES", "34", 5), ("da_DK", "DK", "45", 5), ("no_NO", "NO", "47", 5), ("fi_FI", "FI", "358", 4),
    ("nl_NL", "NL", "31", 4), ("it_IT", "IT", "39", 4), ("ja_JP", "JP", "81", 2),
)
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "wp.pl", "onet.pl",
             "o2.pl", "telia.com", "gmx.de", "web.de", "orange.fr", "rediffmail.com", "yahoo.co.in",
             "proton.me", "live.se")
DEVICES = ("MOBILE", "DESKTOP", "TABLET", "SMART_TV")
DEVICE_WEIGHTS = (55, 35, 9, 1)
NAMES_PER_LOCALE = 80


@dataclass(frozen=True)
class Section:
    index: int
    id: str
    discriminator: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """An APSIS-style profile attribute: a discriminator, a type and version ids (newest last)."""
    discriminator: str
    name: str
    type: str  # string, integer, double, boolean, date, datetime
    field: str  # the recipient field it shows
    version_ids: tuple[int, ...]
    deprecated_at: tuple[str | None, ...]

    @property
    def version_id(self) -> int:
        return self.version_ids[-1]


@dataclass(frozen=True)
class Tag:
    id: int
    discriminator: str
    name: str
    share_permille: int  # how many profiles in 1000 carry it


@dataclass(frozen=True)
class EventType:
    discriminator: str
    name: str
    canonical: str
    version_ids: tuple[int, ...]

    @property
    def version_id(self) -> int:
        return self.version_ids[-1]


@dataclass(frozen=True)
class MailingList:
    id: int
    name: str
    offset: int  # where the list starts in the permuted recipient order
    size: int
    double_opt_in: bool
    section: int
    topic: str  # APSIS topic discriminator for this list's consent


@dataclass(frozen=True)
class Segment:
    id: int
    name: str
    discriminator: str
    version_id: int
    share_permille: int


@dataclass(frozen=True)
class Goal:
    id: int
    name: str
    value: int


@dataclass(frozen=True)
class Sender:
    name: str
    email: str
    domain: str


@dataclass
class Catalog:
    first_names: list[tuple[str, ...]] = field(default_factory=list)  # per locale
    last_names: list[tuple[str, ...]] = field(default_factory=list)
    cities: list[tuple[str, ...]] = field(default_factory=list)
    locale_weights: tuple[int, ...] = ()
    sections: tuple[Section, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    tags: tuple[Tag, ...] = ()
    event_types: tuple[EventType, ...] = ()
    lists: tuple[MailingList, ...] = ()
    segments: tuple[Segment, ...] = ()
    goals: tuple[Goal, ...] = ()
    senders: tuple[Sender, ...] = ()
    message_tags: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    link_pages: tuple[tuple[str, str], ...] = ()  # (path, title)
    delivery_ips: tuple[str, ...] = ()
    keyspaces: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


def slug(text: str, fallback: str = "x") -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return out or fallback


def _discriminator(kind: str, name: str, seed: int, n: int) -> str:
    return f"usercreated.{kind}.{slug(name)}-{alnum(h(seed, n, 77), 10)}"


# Faker locales whose city pool is a list made from a set: its order follows the process's string hash
# salt, so f.city() gave other cities for the same seed in every process (it_IT, Faker 30+).
_SET_ORDERED_CITIES = frozenset({"it_IT"})


def _sorted_city_pool(f, locale: str) -> list[str] | None:
    """Faker's city pool in sorted order where its own order is not reproducible, else None (f.city())."""
    if locale not in _SET_ORDERED_CITIES:
        return None
    return next((sorted(p.cities) for p in f.providers if isinstance(getattr(p, "cities", None), list)), None)


def build_catalog(seed: int, recipients: int) -> Catalog:
    fake = Faker([loc for loc, *_ in LOCALES])
    fake.seed_instance(seed)
    rng = random.Random(seed)
    cat = Catalog()
    for loc, *_ in LOCALES:
        f = fake[loc]
        cat.first_names.append(tuple(f.first_name() for _ in range(NAMES_PER_LOCALE)))
        cat.last_names.append(tuple(f.last_name() for _ in range(NAMES_PER_LOCALE)))
        pool = _sorted_city_pool(f, loc)  # drawn with the same one draw per city as f.city()
        cat.cities.append(tuple(f.random_element(pool) if pool else f.city() for _ in range(20)))
    cat.locale_weights = tuple(w for *_, w in LOCALES)
    en = fake["en_US"]

    # APSIS-style sections (discriminator pattern as the official APSIS Magento module shows:
    # usercreated.sections.<slug>-<10>).
    section_names = ("Main Store", "Newsletter Nordics", "B2B Partners")
    cat.sections = tuple(
        Section(i, uuid_from(seed, 11, i), _discriminator("sections", n, seed, 100 + i), n)
        for i, n in enumerate(section_names)
    )

    # Attributes: the default ones (com.apsis1.attributes.*) then custom ones, each with version ids.
    builtin = (("email", "Email", "string", "email"), ("firstname", "First name", "string", "first_name"),
               ("lastname", "Last name", "string", "last_name"), ("phone", "Phone", "string", "phone"),
               ("birthdate", "Birth date", "date", "birthdate"), ("gender", "Gender", "string", "gender"),
               ("country", "Country", "string", "country"), ("city", "City", "string", "city"))
    custom = (("Loyalty points", "integer", "loyalty_points"), ("VIP", "boolean", "vip"),
              ("Last purchase", "datetime", "last_purchase"), ("Lifetime value", "double", "lifetime_value"),
              ("Customer id", "string", "custom_id"))
    attrs = []
    next_version = 491_000 + rng.randrange(800)
    for key, name, typ, fld in builtin:
        attrs.append((f"com.apsis1.attributes.{key}", name, typ, fld))
    for n, (name, typ, fld) in enumerate(custom):
        attrs.append((_discriminator("attributes", name, seed, 200 + n), name, typ, fld))
    built = []
    for n, (disc, name, typ, fld) in enumerate(attrs):
        next_version += 1 + rng.randrange(40)
        versions = [next_version]
        if n % 4 == 1:  # some attributes were redefined: an older, deprecated version comes first
            versions.insert(0, next_version - 300 - rng.randrange(100))
        deprecated = tuple("2023-03-14T09:26:53Z" if i < len(versions) - 1 else None for i in range(len(versions)))
        built.append(Attribute(disc, name, typ, fld, tuple(versions), deprecated))
    cat.attributes = tuple(built)

    tag_names = ("Newsletter", "Black Friday 2025", "Loyal customer", "Abandoned cart", "Webinar, Q3",
                 "\"Early bird\"", "Återkommande kund", "Partner", "Cold lead", "Mobile app user")
    cat.tags = tuple(
        Tag(700_000 + i * 13 + rng.randrange(10), _discriminator("tags", n, seed, 300 + i), n, 40 + rng.randrange(400))
        for i, n in enumerate(tag_names)
    )

    # Event types (the canonical email events, as APSIS event definitions with version ids).
    canon = (("sent", "Email sent"), ("delivered", "Email delivered"), ("opened", "Email opened"),
             ("clicked", "Link clicked"), ("bounced", "Email bounced"), ("unsubscribed", "Unsubscribed"),
             ("complained", "Reported spam"))
    cat.event_types = tuple(
        EventType(f"com.apsis1.events.email.{c}", name, c, (630_000 + i * 37 + rng.randrange(30),))
        for i, (c, name) in enumerate(canon)
    )

    # Lists (ExpertSender lists, APSIS consent lists): contiguous ranges of the permuted recipient order.
    list_names = ("Newsletter", "Promotions", "Product updates", "Webinars, events & meetups", "Nyhetsbrev",
                  "Klienci VIP", "SMS offers", "Partners")
    lists = []
    for i, name in enumerate(list_names):
        size = max(20, int(recipients * (0.25 + 0.5 * rng.random())))
        lists.append(MailingList(
            id=i + 1 + i * 7 + rng.randrange(5), name=name, offset=rng.randrange(recipients), size=min(size, recipients),
            double_opt_in=i % 3 != 2, section=i % len(cat.sections),
            topic=_discriminator("topics", name, seed, 400 + i)))
    cat.lists = tuple(lists)

    segment_names = ("Engaged last 90 days", "Women 25-40", "Stockholm area", "High value", "Inactive, 6 months+")
    cat.segments = tuple(
        Segment(100 + i * 11 + rng.randrange(9), n, _discriminator("segments", n, seed, 500 + i),
                50_000 + rng.randrange(10_000), 250 + rng.randrange(500))
        for i, n in enumerate(segment_names)
    )

    cat.goals = tuple(Goal(10 + i * 3, n, v) for i, (n, v) in enumerate(
        (("Purchase", 250), ("Sign-up", 0), ("Download whitepaper", 10), ("Book a demo", 100))))

    senders = []
    for i in range(6):
        company = fake.company()
        domain = f"{slug(company, 'brand')[:20].strip('-')}.{rng.choice(('com', 'se', 'pl', 'in', 'de'))}"
        local = rng.choice(("news", "hello", "info", "no-reply", "offers", "team"))
        senders.append(Sender(company, f"{local}@mail.{domain}", f"mail.{domain}"))
    cat.senders = tuple(senders)
    cat.message_tags = ("API", "D&D", "A/B", "newsletter", "promo", "transactional", "onboarding", "reactivation")

    # Subjects in the markets' languages, some with commas and quotes (they exercise CSV quoting).
    templates = ("{p}, now 20% off", "\"{p}\" is here", "Your weekly update: {p}", "Nyheter för dig – {p}",
                 "Sista chansen: {p}!", "Ostatnia szansa: {p} – sprawdź!", "Zniżki do -50%, tylko dziś",
                 "Jetzt sparen: {p}", "Édition spéciale : {p}", "{p} – {b}", "Tack för ditt köp, välkommen åter",
                 "आपके लिए खास ऑफ़र: {p}", "Webinar: \"{b}\", live on Thursday", "{p}; {b}")
    subjects = []
    for _ in range(40):
        subjects.append(rng.choice(templates).format(p=en.catch_phrase(), b=en.bs()))
    cat.subjects = tuple(subjects)
    cat.products = tuple(en.catch_phrase() for _ in range(20))
    cat.link_pages = tuple((en.uri_path(), en.catch_phrase()) for _ in range(30))
    cat.delivery_ips = tuple(f"185.{rng.randrange(16, 250)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(8))
    cat.keyspaces = ("com.apsis1.keyspaces.email", "com.apsis1.keyspaces.mobile", "com.apsis1.keyspaces.crm")
    cat.channels = ("com.apsis1.channels.email", "com.apsis1.channels.sms")
    return cat
