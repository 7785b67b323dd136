"""Recipients' lifecycles (emulator/world/lifecycle.py): the world read over days stays coherent.

Each property is checked over several seeds and windows, on the canonical events; the vendor views are
checked through their own endpoints in tests/vendors/*/test_lifecycle_*.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from emulator.world import DAY_MS, HOUR_MS, World
from emulator.world import lifecycle as life
from emulator.world import model as m

NOV_1 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
CASES = [(42, NOV_1, 4), (7, NOV_1 + 9 * DAY_MS + 5 * HOUR_MS, 3), (2024, NOV_1 - 200 * DAY_MS, 3)]


def _leaves(e: m.Event) -> bool:
    """An event that ends the recipient's membership: a permanent bounce, an invalid address, a removal."""
    return (e.type == m.BOUNCED and 2000 <= e.bounce_code < 3000) or e.type in (m.INVALID, m.UNSUBSCRIBED)


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"seed{c[0]}")
def case(request):
    seed, start, days = request.param
    world = World(seed, 0.4)
    events = [e for e in world.events(start, start + days * DAY_MS) if not e.duplicate]
    return world, events


def test_the_windows_hold_every_kind_of_lifecycle_event(case):
    """The checks below reach what they claim: the windows hold leaves of every kind, drops and joins."""
    _, events = case
    counts = Counter(e.type for e in events)
    reasons = Counter(e.reason for e in events if e.type == m.UNSUBSCRIBED)
    assert counts[m.SUBSCRIBED] and counts[m.CONFIRMED] and counts[m.DROPPED]
    assert reasons["Subscriber"] and reasons["UserUnknown"] and reasons["Spam"] + reasons["Bounce"]


def test_no_delivery_after_a_permanent_bounce_or_an_invalid_address(case):
    """APSIS One API: Request email event export, bounce_code "2000-2999 Invalid address (permanent)": a
    hard-bounced or invalid address gets no further delivery (nor send) anywhere in the account."""
    world, events = case
    dead: dict[int, int] = {}
    checked = 0
    for e in events:
        if e.recipient in dead and e.type in (m.SENT, m.DELIVERED, m.OPENED, m.CLICKED):
            msg = world.message(e.message_id)
            assert world.send_time(msg, e.recipient) < dead[e.recipient], e  # engagement with an older mail only
        if (e.type == m.BOUNCED and 2000 <= e.bounce_code < 3000) or e.type == m.INVALID:
            dead[e.recipient] = e.ts
            checked += 1
    assert checked >= 3


def test_no_send_after_a_removal_from_the_list(case):
    """ExpertSender API v2: Get subscriber activity, Removals: after a removal from a list (any reason) the
    list sends nothing more to the address (nor does any other list: the recipient left the account)."""
    _, events = case
    removed: dict[int, int] = {}
    for e in events:
        if e.type == m.SENT:
            assert e.recipient not in removed, e
        if e.type == m.UNSUBSCRIBED:
            removed[e.recipient] = e.ts
    assert len(removed) >= 5


def test_sends_after_a_leave_are_dropped_never_delivered(case):
    """Netcore Email API: Events API, `dropped`: a send to an address on the suppression list (after its
    complaint, unsubscribe or permanent bounce) is dropped, never delivered; nothing is dropped otherwise."""
    world, events = case
    left: set[int] = set()
    dropped = 0
    for e in events:
        if e.type == m.DROPPED:
            dropped += 1
            msg = world.message(e.message_id)
            assert world.send_state(msg, e.recipient, e.ts) == life.DROPPED
            c = world.life.cycle(e.recipient, e.ts)[0]
            at, mid = world.life.realising(e.recipient, c)
            assert (at, mid) < (e.ts, e.message_id), "dropped only after the send that realised the leave"
        if e.type in (m.DELIVERED, m.SENT):
            assert e.recipient not in left, e
        if _leaves(e) or e.type == m.COMPLAINED:
            left.add(e.recipient)
    assert dropped


def test_opens_and_clicks_follow_the_delivery_of_the_same_message(case):
    """An open or a click never precedes the delivery of the same message to the same address."""
    world, events = case
    delivered: dict[tuple[int, int], int] = {}
    checked = 0
    start = events[0].ts
    for e in events:
        key = (e.message_id, e.recipient)
        if e.type == m.DELIVERED:
            delivered.setdefault(key, e.ts)
        elif e.type in (m.OPENED, m.CLICKED, m.COMPLAINED, m.GOAL) and world.message(e.message_id).send_ms >= start:
            assert key in delivered and delivered[key] <= e.ts, e
            checked += 1
    assert checked > 300


def test_a_list_sends_only_to_its_members_and_members_join_first(case):
    """ExpertSender API v2: Get subscriber activity, Subscriptions and Confirmations: a recipient subscribes
    (and on a double opt-in list confirms) before the list's messages reach them; a send goes only to a
    member at send time."""
    world, events = case
    subscribed: dict[tuple[int, int], int] = {}
    confirmed: dict[tuple[int, int], int] = {}
    for e in events:
        if e.type == m.SUBSCRIBED:
            assert not world.subscribed(e.list_id, e.recipient, e.ts - 1), "not a member before joining"
            subscribed[(e.recipient, e.list_id)] = e.ts
        elif e.type == m.CONFIRMED:
            assert subscribed.get((e.recipient, e.list_id), -1) <= e.ts
            assert world.lists_by_id[e.list_id].double_opt_in
            confirmed[(e.recipient, e.list_id)] = e.ts
        elif e.type == m.SENT:
            msg = world.message(e.message_id)
            assert world.subscribed(msg.list_id, e.recipient, e.ts), e
            key = (e.recipient, msg.list_id)
            if key in subscribed:  # joined inside the window: the subscription (and confirmation) came first
                assert subscribed[key] <= e.ts
                if world.lists_by_id[msg.list_id].double_opt_in:
                    assert confirmed[key] <= e.ts
    assert subscribed and confirmed


def test_every_leave_is_realised_by_its_message(case):
    """A leave drawn from the recipient's hash is realised by the message the bounded search finds: each
    removal after a message belongs to the send `send_state` calls REALISE, and is of the cycle's kind."""
    world, events = case
    kinds = {"Subscriber": life.UNSUBSCRIBE, "Spam": life.COMPLAINT}
    seen = 0
    for e in events:
        if e.type == m.UNSUBSCRIBED:
            msg = world.message(e.message_id)
            sent = world.send_time(msg, e.recipient)
            assert world.send_state(msg, e.recipient, sent) == life.REALISE
            kind = world.life.kind(world.life.cycle(e.recipient, sent)[3])
            assert kinds.get(e.reason, kind) == kind
            assert kind in kinds.values() or kind in (life.BOUNCE, life.INVALID)
            seen += 1
    assert seen


def test_send_states_on_arrays_equal_the_scalar_rule():
    """lifecycle.send_states (numpy, the send loops) equals send_state (the readable rule) for every
    recipient of a message's audience."""
    import numpy as np

    world = World(42, 0.4)
    day = (NOV_1 + 3 * DAY_MS) // DAY_MS
    checked = Counter()
    for msg in world.messages_on(day):
        wave = msg.waves[0]
        r = np.array([world.list_member(msg.list_id, p) for p in range(wave.lo, wave.hi)], dtype=np.int64)
        t = wave.start_ms + np.arange(0, wave.hi - wave.lo, dtype=np.int64) * wave.step_ms
        states = world.life.send_states(msg, r, t)
        for k in range(len(r)):
            assert states[k] == world.send_state(msg, int(r[k]), int(t[k]))
            checked[int(states[k])] += 1
    assert checked[life.NORMAL] and checked[life.ABSENT]


def test_lifecycle_costs_the_same_far_in_time():
    """History without replay (DESIGN.md, principle 9): a window in year 9000 is generated from the same
    bounded look-back as one today, and keeps the same shape (members, leaves, joins)."""
    world = World(42, 0.4)
    far = int(datetime(9000, 6, 1, tzinfo=UTC).timestamp() * 1000)
    counts = Counter(e.type for e in world.events(far, far + 2 * DAY_MS))
    assert counts[m.SENT] > 1000 and counts[m.SUBSCRIBED] and counts[m.DELIVERED]


def test_a_recipient_who_left_stays_away_for_weeks(case):
    """After a leave nothing reaches the recipient (on any of their lists) for at least the 70 days before
    their next cycle's subscriptions, so a warehouse reading weeks sees no mail after a suppression."""
    world, events = case
    leavers = {(e.recipient, e.ts) for e in events if e.type == m.UNSUBSCRIBED}
    assert leavers
    for r, t in leavers:
        for lst in world.catalog.lists:
            for later in range(t + HOUR_MS, t + 70 * DAY_MS, 5 * DAY_MS):
                assert not world.subscribed(lst.id, r, later), (r, lst.id, later)
