"""The HTTP `Date` header follows the virtual clock (issue 23, "Everywhere"), as token `exp`, download-URL
expiry and every other time the emulator shows do: a client computing skew or expiry from `Date` agrees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.http_date import http_date

VIRTUAL = datetime(2031, 7, 4, 10, 20, 30, tzinfo=UTC)


@pytest.mark.parametrize("path", ["/_emulator/health", "/apsis/audience/sections",
                                  "/expertsender/v2/Api/Time", "/netcore/v5/stats", "/netcore/nothing", "/"])
def test_every_answer_carries_the_virtual_date(app, client, path):
    core = app.config["EMULATOR_CORE"]
    core.clock._real_time = lambda: 1_700_000_000.0  # the wall clock stands still
    core.clock.set(VIRTUAL)
    response = client.get(path)
    assert response.headers.getlist("Date") == ["Fri, 04 Jul 2031 10:20:30 GMT"]
    core.clock.advance(90)
    assert client.get(path).headers["Date"] == "Fri, 04 Jul 2031 10:22:00 GMT"


def test_http_date_is_the_imf_fixdate_of_rfc_9110():
    """The seed's example: `Date: Thu, 08 Dec 2011 12:02:14 GMT` (ExpertSender API v2: Get subscriber
    activity)."""
    moment = datetime(2011, 12, 8, 12, 2, 14, tzinfo=UTC)
    assert http_date(moment.timestamp()) == "Thu, 08 Dec 2011 12:02:14 GMT"
