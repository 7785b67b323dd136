"""The world read over days through each vendor's own endpoints stays coherent (issue 22), measured as
scripts/coherence.py measures it: Netcore Download Logs, ExpertSender Activities and MessageStatistics,
APSIS email and profile exports. Several seeds and windows, small worlds (scale 0.3, two or three days)."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "coherence.py"
_spec = importlib.util.spec_from_file_location("coherence", _SCRIPT)
coherence = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coherence)


@pytest.fixture(scope="module", params=[(42, date(2026, 11, 1), 3), (7, date(2026, 11, 12), 4),
                                        (2024, date(2026, 6, 3), 2)], ids=lambda p: f"seed{p[0]}")
def figures(request):
    seed, start, days = request.param
    return coherence.measure(seed, 0.3, start, days)


def test_the_windows_hold_what_the_checks_need(figures):
    """A check that meets nothing cannot fail: the windows hold suppressions, removals and bounces."""
    assert figures["netcore suppressed addresses (hardbounce, invalid, spam, unsubscribe)"] >= 3
    assert figures["expertsender (address, list) pairs removed"] >= 3
    assert figures["expertsender messages with removals checked"] >= 2
    assert figures["apsis addresses bounced 2001/2002/2004"] >= 1
    assert figures["apsis profile-export events"] > 1000


def test_netcore_delivers_nothing_to_a_suppressed_address(figures):
    """Netcore Email API: Events API: after a hardbounce, invalid, spam or unsubscribe the address is on the
    suppression list: later sends show `dropped`, never `sent`, and nothing later is opened or clicked."""
    assert figures["netcore suppressed addresses delivered a message requested later"] == 0
    assert figures["netcore addresses dropped, then delivered a message requested later"] == 0
    assert figures["netcore opens and clicks of messages requested after a hard bounce or invalid"] == 0


def test_expertsender_sends_nothing_after_a_removal(figures):
    """ExpertSender API v2: Get subscriber activity: no Sends row to an address after its Removals row from
    the same list; MessageStatistics counts as Unsubscribes only the Removals with reason Subscriber."""
    assert figures["expertsender sends after a removal from the list"] == 0
    assert figures["expertsender MessageStatistics Unsubscribes other than the Subscriber removals"] == 0
    assert figures["expertsender MessageStatistics over a year, status"] == 200


def test_apsis_delivers_nothing_after_a_permanent_bounce(figures):
    """APSIS One API: Request email event export, bounce_code "2000-2999 Invalid address (permanent)"."""
    assert figures["apsis deliveries after a 2001/2002/2004 bounce"] == 0


def test_engagement_never_precedes_delivery(figures):
    """An open or a click of a message to an address follows that message's delivery to it (every vendor)."""
    assert figures["netcore opens and clicks before their message's delivery"] == 0
    assert figures["apsis opens and clicks before their delivery"] == 0


def test_apsis_addresses_belong_to_their_event_section(figures):
    """APSIS One API: Request email event export, `address`: "Primary email address attribute of the targeted
    profile (from the same data section as the event)"; the profile export keeps each event in its section."""
    assert figures["apsis addresses of one-section email exports"] > 100
    assert figures["apsis addresses of a one-section email export whose profile is not in that section"] == 0
    assert figures["apsis profile-export events under a section other than their activity's"] == 0
