"""The inlined send and engagement loops of the world generator draw exactly what the readable reference
loops draw (issue 7: speed may not change a seed's data). The reference loops are kept here, written with
the world's own helpers (`audience_member`, `send_state`, `send_outcome`, `received`, `_add`), and every shard is compared whole.
"""

from __future__ import annotations

import pytest

from emulator.world import model as m
from emulator.world.catalog import DEVICES
from emulator.world.hashing import mix
from emulator.world.world import DELIVERY_DELAY_MAX, ENGAGEMENT_WEIGHTS, HOUR_MS, World, _ShardBuilder

Y2019_12_31 = 1_577_750_400_000  # the day before event_time existed: the pre-2020 branch of `_add`
Y2026_03_08 = 1_772_928_000_000


class ReferenceBuilder(_ShardBuilder):
    """The send and engagement loops one recipient at a time, with the world's scalar rules: `audience`,
    `send_state` (lifecycle.py), `send_outcome` and `received`."""

    def sends(self, msg, wave):
        for pos, r in self.w.audience(msg, wave.lo, wave.hi):
            t = wave.start_ms + (pos - wave.lo) * wave.step_ms
            roll = mix(self.w._prefix(40, msg.id) ^ r) % 10_000
            self.send(msg, wave, pos, r, self.w.send_state(msg, r, t), roll)

    def engagement(self, msg, wave, k):
        w, rng = self.w, self.rng
        size = wave.hi - wave.lo
        rate = msg.open_rate if msg.channel == m.EMAIL else msg.click_rate * 0.5
        expected = size * rate * ENGAGEMENT_WEIGHTS[k]
        count = int(expected) + (rng.random() < expected - int(expected))
        for _ in range(count):
            pos = wave.lo + self.below(size)
            r = w.audience_member(msg, pos)
            sent_ms = wave.start_ms + (pos - wave.lo) * wave.step_ms
            if r < 0 or not w.received(msg, r, sent_ms):
                continue
            if k == 0:
                earliest = sent_ms + DELIVERY_DELAY_MAX + 1000
                if earliest >= self.end:
                    continue
                t = earliest + self.below(self.end - earliest)
            else:
                t = self.start + self.below(HOUR_MS)
            person = w.recipient(r)
            device = person.device if rng.random() < 0.8 else DEVICES[self.below(3)]
            ip = person.ip if rng.random() < 0.7 else f"{rng.randrange(1, 223)}.{self.below(256)}." \
                                                      f"{self.below(256)}.{rng.randrange(1, 255)}"
            v = wave.variation
            if msg.channel == m.EMAIL:
                self._add(t, m.OPENED, msg.id, r, msg.channel, v, device=device, ip=ip, retry=True)
                clicked = rng.random() < msg.click_rate
            else:
                clicked = True
            self.after_open(msg, r, v, t, device, ip, clicked)  # not inlined: shared


def reference_shard(world: World, hour: int):
    import emulator.world.hours as world_module

    real = world_module._ShardBuilder
    world_module._ShardBuilder = ReferenceBuilder
    try:
        return world._build_shard(hour)
    finally:
        world_module._ShardBuilder = real


@pytest.mark.parametrize("seed,scale", [(42, 1.0), (7, 0.3), (2024, 2.5)])
@pytest.mark.parametrize("day_ms", [Y2019_12_31, Y2026_03_08], ids=["2019-12-31", "2026-03-08"])
def test_inlined_generation_equals_reference(seed, scale, day_ms):
    """Every event of a day (sends, duplicates, opens, clicks, quirky event_time values) is identical."""
    world = World(seed, scale)
    for hour in range(day_ms // HOUR_MS, day_ms // HOUR_MS + 24):
        assert world._build_shard(hour) == reference_shard(world, hour), hour


def test_typed_shard_is_the_shard_filtered():
    """The per-type cache beside the shard holds the same events in the same order."""
    world = World(42, 1.0)
    start = Y2026_03_08 + 10 * HOUR_MS
    for types in ([m.COMPLAINED], [m.OPENED, m.CLICKED], list(m.EVENT_TYPES)):
        assert list(world.events(start + 5, start + 3 * HOUR_MS - 7, types)) == [
            e for e in world.events(start + 5, start + 3 * HOUR_MS - 7) if e.type in types]


@pytest.mark.parametrize("seed,scale", [(42, 1.0), (7, 0.3), (2024, 2.5)])
@pytest.mark.parametrize("day_ms", [Y2019_12_31, Y2026_03_08], ids=["2019-12-31", "2026-03-08"])
def test_sent_events_are_the_sent_events_without_seq_and_source(seed, scale, day_ms):
    """World.sent_events (ExpertSender Sends, built without the hour's random draws) lists the SENT events of
    `events` in the same order, windows cut inside hours too; only seq and source_ts are left 0."""
    world = World(seed, scale)
    sends = [e for e in world.events(day_ms, day_ms + 24 * HOUR_MS, [m.SENT])]
    assert len(sends) > 100
    middle = sends[len(sends) // 2].ts  # a window cut inside a send hour
    for lo, hi in ((day_ms, day_ms + 24 * HOUR_MS), (middle - 2 * HOUR_MS + 1234, middle + 7)):
        expected = [e._replace(seq=0, source_ts=0) for e in world.events(lo, hi, [m.SENT])]
        assert list(world.sent_events(lo, hi)) == expected


@pytest.mark.parametrize("seed,scale", [(42, 1.0), (3, 13.0)])
def test_contact_is_the_recipients_contact_columns(seed, scale):
    """World.contact, which an export reads instead of building whole recipients above scale 13, gives
    each recipient's email, phone and custom id."""
    world = World(seed, scale)
    for i in range(0, world.size, 7):
        person = world._recipient(i)
        assert world.contact(i) == (person.email, person.phone, person.custom_id)


def test_send_windows_cut_busy_hours_into_pieces_that_add_up():
    """A big Sends export is rendered in pieces of about `most` sends (World.send_windows): the pieces tile
    the window, busy hours are cut, and their sends are the window's, in order."""
    from itertools import pairwise

    world = World(42, 1.0)
    lo, hi = Y2026_03_08 + 1234, Y2026_03_08 + 24 * HOUR_MS - 5
    windows = world.send_windows(lo, hi, 300)
    assert windows[0][0] == lo and windows[-1][1] == hi
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in pairwise(windows))
    assert len(windows) > 24 + 5, "send hours are cut"
    pieces = [list(world.sent_events(a, b)) for a, b in windows]
    assert [e for piece in pieces for e in piece] == list(world.sent_events(lo, hi))
    assert max(map(len, pieces)) <= 330
