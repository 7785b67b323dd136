"""The seeded world: determinism, shard independence, funnel ratios, causality and documented quirks."""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from emulator.world import DAY_MS, HOUR_MS, World
from emulator.world import model as m

DAY = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def world() -> World:
    return World(42)


def test_same_seed_gives_the_same_events_and_catalog(world):
    other = World(42)
    assert other.catalog == world.catalog
    assert list(other.events(DAY, DAY + DAY_MS)) == list(world.events(DAY, DAY + DAY_MS))
    assert [other.recipient(i) for i in range(50)] == [world.recipient(i) for i in range(50)]


def test_another_seed_gives_other_events(world):
    other = World(7)
    assert list(other.events(DAY, DAY + 6 * HOUR_MS))[:50] != list(world.events(DAY, DAY + 6 * HOUR_MS))[:50]
    assert other.recipient(0).email != world.recipient(0).email


def test_a_shard_does_not_depend_on_what_was_generated_before(world):
    """Each hour is independent: a fresh world asked for hour H alone gives what a warm world gives."""
    hour = DAY // HOUR_MS + 13
    fresh = World(42)
    assert fresh.shard(hour) == world.shard(hour)


@pytest.mark.parametrize("cut_seed", range(5))
def test_window_cut_property(world, cut_seed):
    """events[a,c) == events[a,b) + events[b,c) for any cut b (issue 3)."""
    rng = random.Random(cut_seed)
    a = DAY + rng.randrange(DAY_MS)
    c = a + rng.randrange(1, 2 * DAY_MS)
    b = rng.randrange(a, c + 1)
    assert list(world.events(a, c)) == list(world.events(a, b)) + list(world.events(b, c))


def test_events_are_in_time_order_and_inside_the_window(world):
    a, c = DAY + 123_456, DAY + 5 * HOUR_MS + 7
    events = list(world.events(a, c))
    assert events, "a weekday afternoon has events"
    assert all(a <= e.ts < c for e in events)
    assert [e.ts for e in events] == sorted(e.ts for e in events)


@pytest.mark.parametrize("day", range(7))
def test_funnel_ratios_are_realistic_over_a_day(world, day):
    """Issue 3: ~97% delivered, 1-3% bounced, 20-40% of deliveries opened, 10-25% of opens clicked,
    under 1% unsubscribed, under 0.1% complaints (email channel, each of seven days)."""
    start = DAY + day * DAY_MS
    counts = Counter(e.type for e in world.events(start, start + DAY_MS) if not e.duplicate and e.channel == m.EMAIL)
    sent, delivered = counts[m.SENT], counts[m.DELIVERED]
    assert sent > 1000
    assert 0.96 <= delivered / sent <= 0.995
    assert 0.01 <= counts[m.BOUNCED] / sent <= 0.03
    assert 0.20 <= counts[m.OPENED] / delivered <= 0.40
    assert 0.10 <= counts[m.CLICKED] / counts[m.OPENED] <= 0.25
    assert counts[m.UNSUBSCRIBED] / delivered < 0.01
    assert counts[m.COMPLAINED] / delivered < 0.001


def test_volume_follows_scale():
    small, large = World(42, 1.0), World(42, 3.0)
    n_small = sum(1 for e in small.events(DAY, DAY + DAY_MS) if e.type == m.SENT)
    n_large = sum(1 for e in large.events(DAY, DAY + DAY_MS) if e.type == m.SENT)
    assert 2.0 < n_large / n_small < 4.0


def test_event_times_never_precede_the_send_of_their_message(world):
    sends = {}
    for e in world.events(DAY - 2 * DAY_MS, DAY + DAY_MS):
        if e.type == m.SENT:
            sends[(e.message_id, e.recipient)] = min(e.ts, sends.get((e.message_id, e.recipient), e.ts))
    checked = 0
    for e in world.events(DAY, DAY + DAY_MS):
        if e.message_id:
            assert e.ts >= world.message(e.message_id).send_ms
            if e.type in (m.OPENED, m.CLICKED, m.DELIVERED, m.BOUNCED):
                assert (e.message_id, e.recipient) in sends, "engagement only for recipients that were sent to"
                assert e.ts >= sends[(e.message_id, e.recipient)]
                checked += 1
    assert checked > 1000


def test_opens_and_clicks_go_only_to_delivered_recipients(world):
    checked = 0
    for e in world.events(DAY, DAY + DAY_MS, types=(m.OPENED, m.CLICKED)):
        msg = world.message(e.message_id)
        assert world.received(msg, e.recipient, world.send_time(msg, e.recipient))
        checked += 1
    assert checked > 500


def test_type_specific_details(world):
    events = list(world.events(DAY, DAY + DAY_MS))
    clicks = [e for e in events if e.type == m.CLICKED]
    assert clicks and all(0 <= e.link < len(world.message(e.message_id).links) for e in clicks)
    bounces = [e for e in events if e.type == m.BOUNCED]
    assert bounces and all(1000 <= e.bounce_code <= 9999 for e in bounces)
    assert {e.device for e in events if e.type == m.OPENED} <= {"MOBILE", "DESKTOP", "TABLET", "SMART_TV"}
    assert all(e.device == "" and e.link == -1 for e in events if e.type == m.SENT)


def test_split_tests_have_variations_and_a_winning_partition(world):
    split = next(msg for d in range(DAY // DAY_MS, DAY // DAY_MS + 30) for msg in world.messages_on(d)
                 if msg.is_split)
    variations = {e.variation for e in world.events(split.send_ms - HOUR_MS, split.send_ms + 6 * HOUR_MS)
                  if e.message_id == split.id and e.type == m.SENT}
    assert variations == set(range(len(split.variations) + 1))
    assert split.split_id(len(split.variations)) == split.id  # winner partition: split_id == activity_id


def test_event_time_is_zero_for_most_events_before_2020():
    """APSIS seed: event_time was introduced at the beginning of 2020, earlier events may have 0."""
    old = int(datetime(2019, 6, 4, tzinfo=UTC).timestamp() * 1000)
    events = list(World(42).events(old, old + DAY_MS))
    zero = sum(1 for e in events if e.source_ts == 0)
    assert zero / len(events) > 0.5


def test_retried_events_repeat_their_correlation_id(world):
    """APSIS seed: the same correlation_id may repeat when an event was sent again by retry logic."""
    events = list(world.events(DAY, DAY + 7 * DAY_MS))
    dupes = [e for e in events if e.duplicate]
    assert dupes
    originals = {(e.ts // HOUR_MS, e.seq): e for e in events if not e.duplicate}
    for d in dupes:
        orig = originals[(d.ts // HOUR_MS, d.seq)]
        assert (orig.type, orig.message_id, orig.recipient) == (d.type, d.message_id, d.recipient)


def test_recipients_have_varied_realistic_values(world):
    people = [world.recipient(i) for i in range(2000)]
    assert len({p.email for p in people}) == 2000
    assert any(any(ord(ch) > 127 for ch in p.first_name + p.last_name) for p in people)
    assert {"SE", "PL", "IN"} <= {p.country for p in people}
    assert any(p.custom_id == "" for p in people) and any(p.custom_id for p in people)


@pytest.mark.parametrize("seed", [42, 7])
def test_contact_fields_never_need_csv_quoting(seed):
    """ExpertSender's Email, Phone and CustomSubscriberId columns are written unquoted (activities.lines):
    addresses, phones and custom ids of every recipient hold no comma, quote or line break, whatever the
    locale of the names they are made from; and they are ASCII, so rows put together from writers.utf8_text
    pieces take them as they are."""
    import re

    safe = re.compile(r"[a-z0-9._-]+@[a-z0-9.-]+|\+?[0-9]+|(C-[0-9]{7})?")
    world = World(seed)
    people = [world.recipient(i) for i in range(world.size)]
    assert all(safe.fullmatch(p.email) and safe.fullmatch(p.phone) and safe.fullmatch(p.custom_id)
               for p in people)


def test_subjects_exercise_csv_quoting(world):
    subjects = world.catalog.subjects
    assert any("," in s for s in subjects) and any('"' in s for s in subjects)
    assert any(any(ord(ch) > 127 for ch in s) for s in subjects)


def test_same_seed_same_world_in_every_process():
    """Seeded Faker: every run is reproducible, whatever the process's string hash salt (Faker's it_IT city
    pool is made from a set, so its order used to follow PYTHONHASHSEED)."""
    import subprocess
    import sys

    code = ("import hashlib; from emulator.world import World; w = World(42, 0.5); "
            "print(hashlib.sha256(repr((w.catalog, [w.recipient(i) for i in range(w.size)])).encode()).hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": salt}).stdout
        for salt in ("1", "2", "3")
    }
    assert len(digests) == 1
