"""Every recipient's lifecycle: when they join each of their lists, when and how they leave, and what a send
to them becomes. History without replay (DESIGN.md, principle 9): all of it is drawn from the recipient's
own hash, so the events of any window stay a pure function of (seed, scale, window).

A recipient lives in cycles of CYCLE_MS. Cycle c starts at the recipient's join time J (the cycles of all
recipients are spread evenly over the period, so the joins of any hour can be listed); they subscribe to
each of their lists some days later (a delay of the list's), confirming on a double opt-in list (or never,
and then they are not a member of it in that cycle). At the leave time T (J plus a tenure drawn from the
cycle's hash, always after every join) the recipient leaves the account in one of four ways:

- a permanent bounce (APSIS 2001 "Email address does not exist", 2002 "Domain of address does not exist",
  2004 "Closed email account"), or an invalid address: no further delivery anywhere in the account;
- a complaint, or an unsubscribe: removed from the list of the message, and (Netcore's suppression list is
  account-wide) from the account.

The leave is realised by the first email message sent to the recipient at or after T, found by a bounded
search of the messages of [T, T + REALISE_MS) (`realising`): that send bounces, is invalid, or is delivered
and opened and then complained about or unsubscribed from. A later send of that window is shown dropped
(Netcore "dropped" with its suppression remark; ExpertSender and APSIS list no send); from T + REALISE_MS
on, nothing is sent to them until their next cycle, which starts with new subscriptions. Without a message
in the search window the recipient leaves silently.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

from . import model as m
from .hashing import MASK, h, mix
from .model import DAY_MS

if TYPE_CHECKING:
    from .model import Message
    from .world import World

# ExpertSender API v2: Get subscriber activity
REMOVAL_REASONS = ("Subscriber", "User", "Bounce", "Spam", "UserUnknown", "Api")
PLATFORM_REMOVALS = frozenset({"UserUnknown", "Bounce"})  # removals the platform makes after a bounce
CYCLE_MS = 500 * DAY_MS
TENURE_MIN_MS = 400 * DAY_MS  # after every join: list delays are at most JOIN_DELAY_MAX_DAYS
TENURE_STEPS, TENURE_STEP_MS = 1000, 30 * DAY_MS // 1000  # tenure in [400, 430) days: 70 days or more
# away before the next cycle's subscriptions
JOIN_DELAY_MAX_DAYS = 20
REALISE_MS = 2 * DAY_MS  # the bounded search for the message that realises a leave
CONFIRM_PERCENT = 90  # of subscriptions to a double opt-in list confirmed
CONFIRM_MAX_MS = 3_600_000  # a confirmation follows its subscription within an hour
_CYCLE_BIAS = 1 << 20  # cycles (negative before the world's epoch) as non-negative keys
_KEY_SHIFT = 21

# What a send becomes (`send_state`).
ABSENT, NORMAL, DROPPED, REALISE = 0, 1, 2, 3
# How a cycle ends, by a roll of 0..99 (kinds and shares).
BOUNCE, INVALID, UNSUBSCRIBE, COMPLAINT = "bounce", "invalid", "unsubscribe", "complaint"
_KIND_BY_ROLL = (BOUNCE,) * 40 + (INVALID,) * 10 + (UNSUBSCRIBE,) * 40 + (COMPLAINT,) * 10
PERMANENT_CODES = (2001, 2001, 2002, 2004)  # APSIS "2000-2999 Invalid address (permanent)"
ENGAGED_KINDS = frozenset({UNSUBSCRIBE, COMPLAINT})  # leaves whose message was delivered and opened


class Lifecycle:
    """The lifecycle rules of one world (see the module's note)."""

    def __init__(self, world: World):
        self.world = world
        seed, size = world.seed, world.size
        self.size = size
        # Join order: a seeded permutation of the recipients, rank k joining at k / size of the period.
        a = 1 + h(seed, 90, 1) % size
        while _gcd(a, size) != 1:
            a += 1
        self._rank_a, self._rank_b = a, h(seed, 90, 2) % size
        self._rank_inv = pow(a, -1, size) if size > 1 else 0
        self.epoch = h(seed, 90, 3) % CYCLE_MS
        self._jitter_base = h(seed, 91)
        self._cycle_base = h(seed, 92)
        lists = world.catalog.lists
        self.list_index = {lst.id: i for i, lst in enumerate(lists)}
        self.join_delay = tuple(h(seed, 93, i) % (JOIN_DELAY_MAX_DAYS * 24) * 3_600_000 for i in range(len(lists)))
        self.double_opt_in = tuple(lst.double_opt_in for lst in lists)
        self._confirm_base = tuple(h(seed, 94, i) for i in range(len(lists)))
        self.realising = lru_cache(maxsize=1 << 14)(self._realising)

    # --- one recipient -------------------------------------------------------------------------
    def phase(self, r: int) -> int:
        """When in the period recipient r's cycles start: rank / size of it, plus a jitter within its slot."""
        rank = (r * self._rank_a + self._rank_b) % self.size
        return self.epoch + (rank * CYCLE_MS + mix(self._jitter_base ^ r) % CYCLE_MS) // self.size

    def cycle(self, r: int, t: int) -> tuple[int, int, int, int]:
        """(cycle, its join time J, its leave time T, its hash) of recipient r at time t."""
        phase = self.phase(r)
        c = (t - phase) // CYCLE_MS
        joined = phase + c * CYCLE_MS
        x = mix(self._cycle_base ^ ((r << _KEY_SHIFT) + c + _CYCLE_BIAS) & MASK)
        return c, joined, joined + TENURE_MIN_MS + x % TENURE_STEPS * TENURE_STEP_MS, x

    def member_since(self, r: int, list_index: int, c: int, joined: int) -> int | None:
        """When r becomes a member of a list (of their static lists) in cycle c: the subscription, or on a
        double opt-in list its confirmation; None when they never confirm in this cycle."""
        since = joined + self.join_delay[list_index]
        if not self.double_opt_in[list_index]:
            return since
        y = mix(self._confirm_base[list_index] ^ ((r << _KEY_SHIFT) + c + _CYCLE_BIAS) & MASK)
        if y % 100 >= CONFIRM_PERCENT:
            return None
        return since + 60_000 + (y >> 8) % (CONFIRM_MAX_MS - 60_000)

    @staticmethod
    def kind(x: int) -> str:
        """How the cycle whose hash is x ends."""
        return _KIND_BY_ROLL[(x >> 32) % 100]

    @staticmethod
    def bounce_code(x: int) -> int:
        return PERMANENT_CODES[(x >> 48) % len(PERMANENT_CODES)]

    def send_state(self, msg: Message, r: int, t: int) -> int:
        """What a send of `msg` to r (in its static audience) at time t becomes: ABSENT (not a member, or
        gone), NORMAL, DROPPED (suppressed) or REALISE (the send that realises r's leave)."""
        c, joined, leave, _ = self.cycle(r, t)
        since = self.member_since(r, self.list_index[msg.list_id], c, joined)
        if since is None or t < since:
            return ABSENT
        if t < leave:
            return NORMAL
        if t >= leave + REALISE_MS:
            return ABSENT
        found = self.realising(r, c)
        if found is None:
            return ABSENT
        at, mid = found
        if (t, msg.id) < (at, mid):
            return NORMAL  # an SMS before the leave's email
        return REALISE if (t, msg.id) == (at, mid) else DROPPED

    def subscribed(self, list_id: int, r: int, t: int) -> bool:
        """Whether r is a member of a list at time t (APSIS topics: `subscribed`)."""
        w = self.world
        if not w.in_list(list_id, r):
            return False
        c, joined, leave, _ = self.cycle(r, t)
        since = self.member_since(r, self.list_index[list_id], c, joined)
        if since is None or t < since:
            return False
        if t < leave:
            return True
        found = self.realising(r, c)
        return found is not None and t <= found[0]  # a member until the send that realises the leave

    def _realising(self, r: int, c: int) -> tuple[int, int] | None:
        """(send time, message id) of the first email message sent to r at or after their leave time T in
        cycle c, within [T, T + REALISE_MS), or None."""
        w = self.world
        phase = self.phase(r)
        joined = phase + c * CYCLE_MS
        _, _, leave, _ = self.cycle(r, joined)
        best: tuple[int, int] | None = None
        for day in range(leave // DAY_MS, (leave + REALISE_MS - 1) // DAY_MS + 1):
            for msg in w.messages_on(day):
                if msg.channel != m.EMAIL or not w.in_list(msg.list_id, r):
                    continue
                if msg.segment_id and not w.in_segment(msg.segment_id, r):
                    continue
                if self.member_since(r, self.list_index[msg.list_id], c, joined) is None:
                    continue
                t = w.send_time(msg, r)
                if leave <= t < leave + REALISE_MS and (best is None or (t, msg.id) < best):
                    best = (t, msg.id)
            if best is not None:
                return best  # a later day's sends come later (a message's waves end on its day)
        return best

    # --- arrays (the send loops) ------------------------------------------------------------------
    def send_states(self, msg: Message, recipients, times):
        """send_state for arrays of recipients (int64) and send times (int64), as an int8 array: hashes on
        arrays, `send_state` itself only where a leave may be realised."""
        from .vector import _mix, _numpy

        np = _numpy()
        u = np.uint64
        r64 = recipients.astype(np.int64)
        ru = recipients.astype(np.uint64)
        phase = self._phases()[r64]
        c = (times - phase) // CYCLE_MS
        joined = phase + c * CYCLE_MS
        key = (ru << u(_KEY_SHIFT)) + (c + _CYCLE_BIAS).astype(np.uint64)
        x = _mix(key ^ u(self._cycle_base))
        leave = joined + TENURE_MIN_MS + (x % u(TENURE_STEPS)).astype(np.int64) * TENURE_STEP_MS
        i = self.list_index[msg.list_id]
        since = joined + self.join_delay[i]
        member = np.ones(len(r64), dtype=bool)
        if self.double_opt_in[i]:
            y = _mix(key ^ u(self._confirm_base[i]))
            member = (y % u(100)) < u(CONFIRM_PERCENT)
            since = since + 60_000 + ((y >> u(8)) % u(CONFIRM_MAX_MS - 60_000)).astype(np.int64)
        state = np.where(member & (times >= since) & (times < leave), NORMAL, ABSENT).astype(np.int8)
        check = np.flatnonzero(member & (times >= leave) & (times < leave + REALISE_MS))
        for k in check.tolist():
            state[k] = self.send_state(msg, int(r64[k]), int(times[k]))
        return state

    @cache  # noqa: B019 - one per world, which lives as long as the process
    def _phases(self):
        """phase(r) of every recipient, as an int64 array (what send_states reads)."""
        from .vector import _mix, _numpy

        np = _numpy()
        r = np.arange(self.size, dtype=np.int64)
        rank = (r * self._rank_a + self._rank_b) % self.size
        jitter = (_mix(r.astype(np.uint64) ^ np.uint64(self._jitter_base)) % np.uint64(CYCLE_MS)).astype(np.int64)
        return self.epoch + (rank * CYCLE_MS + jitter) // self.size

    # --- joins of one hour ------------------------------------------------------------------------
    def joins(self, start: int, end: int):
        """(time, SUBSCRIBED or CONFIRMED, recipient, list index) of the subscriptions and confirmations in
        [start, end), in no particular order."""
        w = self.world
        out = []
        for i, lst in enumerate(w.catalog.lists):
            delay = self.join_delay[i]
            lo = start - delay - (CONFIRM_MAX_MS if self.double_opt_in[i] else 0)  # joins whose events may fall
            for r in self._joining(lo, end - delay):
                if not w.in_list(lst.id, r):
                    continue
                phase = self.phase(r)
                c = -((phase - lo) // CYCLE_MS)  # the first cycle joining at or after lo
                joined = phase + c * CYCLE_MS
                if joined >= end - delay:
                    continue
                at = joined + delay
                if start <= at < end:
                    out.append((at, m.SUBSCRIBED, r, i))
                if self.double_opt_in[i]:
                    confirmed = self.member_since(r, i, c, joined)
                    if confirmed is not None and start <= confirmed < end:
                        out.append((confirmed, m.CONFIRMED, r, i))
        return out

    def _joining(self, lo: int, hi: int):
        """Recipients whose cycles start (phase, modulo the period) in [lo, hi), hi - lo < CYCLE_MS."""
        size = self.size
        out = []
        for c in range((lo - self.epoch) // CYCLE_MS, (hi - 1 - self.epoch) // CYCLE_MS + 1):
            a, b = lo - self.epoch - c * CYCLE_MS, hi - self.epoch - c * CYCLE_MS
            a, b = max(a, 0), min(b, CYCLE_MS)
            if a >= b:
                continue
            for rank in range(max(0, a * size // CYCLE_MS - 1), min(size, b * size // CYCLE_MS + 1)):
                r = (rank - self._rank_b) * self._rank_inv % size
                p = self.phase(r) - self.epoch
                if a <= p < b:
                    out.append(r)
        return out


SMS_LIST = 6  # catalog.lists[6] is the SMS list (World._messages_on)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
