"""The wire details of the seed's examples ("ExpertSender API v2: Get subscriber activity", Examples):
the TIMEZONE cookie, the path id that does not filter, a plain answer with Content-Length although the
request accepts gzip,deflate."""

from __future__ import annotations

import gzip

import pytest

from emulator.app import create_app
from emulator.settings import Settings
from emulator.vendors.expertsender import views
from emulator.vendors.expertsender.timezone import windows_name
from emulator.writers import known_length

from .conftest import DAY, KEY, NOW, parse

SEED_ACCEPT = {"Accept-Encoding": "gzip,deflate"}  # the seed's example request headers


def test_every_answer_carries_the_business_units_zone_cookie(es):
    """Seed examples: `Set-Cookie: TIMEZONE=Central European Standard Time; path=/` (Europe/Warsaw here),
    on every 200; an error answer has none (emulator choice: no error example shows its headers)."""
    for response in (es("/v2/Api/Activities", date=DAY, type="Sends"), es("/v2/Api/Time"), es("/Api/Lists")):
        assert response.status_code == 200
        assert response.headers.getlist("Set-Cookie") == ["TIMEZONE=Central European Standard Time; path=/"]
    assert "Set-Cookie" not in es("/v2/Api/Activities", date="bad", type="Sends").headers


def test_in_process_clients_ignore_the_cookie(app):
    """werkzeug's cookie jar cannot parse the seed's unquoted spaces: app.test_client() has no jar."""
    client = app.test_client()
    assert client.get(f"/expertsender/v2/Api/Time?apiKey={KEY}").status_code == 200


def test_the_cookie_follows_the_configured_zone(tmp_path):
    app = create_app(Settings(state_dir=str(tmp_path), expertsender_timezone="Europe/London"))
    response = app.test_client().get(f"/expertsender/v2/Api/Activities?apiKey={KEY}&date={DAY}&type=Sends")
    assert response.headers["Set-Cookie"] == "TIMEZONE=GMT Standard Time; path=/"


@pytest.mark.parametrize("iana, windows", [("Europe/Warsaw", "Central European Standard Time"),
                                           ("Europe/Berlin", "W. Europe Standard Time"),
                                           ("Europe/Paris", "Romance Standard Time"),
                                           ("Europe/Kyiv", "FLE Standard Time"), ("UTC", "UTC"),
                                           ("America/New_York", "Eastern Standard Time"),
                                           ("Antarctica/Troll", "Antarctica/Troll")])
def test_windows_zone_names_follow_cldr(iana, windows):
    """Unicode CLDR windowsZones; a zone outside the table keeps its IANA name (emulator choice)."""
    assert windows_name(iana) == windows


def test_the_path_id_does_not_filter_by_message(es):
    """Seed example: GET /v2/Api/Activities/145408?...&type=Opens answers rows of MessageId 147849, so the
    id is not a MessageId filter; the emulator answers the same rows as without it."""
    with_id = es("/v2/Api/Activities/145408", date=DAY, type="Opens", returnActivityIp="true")
    without = es("/v2/Api/Activities", date=DAY, type="Opens", returnActivityIp="true")
    assert with_id.status_code == 200 and with_id.data == without.data
    header, *rows = parse(with_id.data)
    assert len({r[header.index("MessageId")] for r in rows}) > 1
    assert es("/v2/Api/Activities/abc", date=DAY, type="Opens").status_code == 400


def test_plain_with_content_length_although_gzip_is_accepted(es):
    """Seed example: the request sends Accept-Encoding: gzip,deflate, the answer has no Content-Encoding
    and a Content-Length."""
    response = es("/v2/Api/Activities", date=DAY, type="Opens", headers=SEED_ACCEPT)
    assert "Content-Encoding" not in response.headers
    assert int(response.headers["Content-Length"]) == len(response.data) > 0
    assert response.data.startswith(b"Date,Email,MessageId,")


def test_gzip_when_configured_and_accepted(tmp_path):
    app = create_app(Settings(state_dir=str(tmp_path), expertsender_gzip=True))
    app.config["EMULATOR_CORE"].clock.set(NOW)
    client = app.test_client()
    url = f"/expertsender/v2/Api/Activities?apiKey={KEY}&date={DAY}&type=Opens"
    plain, zipped = client.get(url), client.get(url, headers=SEED_ACCEPT)
    assert zipped.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert int(zipped.headers["Content-Length"]) == len(zipped.data)
    assert gzip.decompress(zipped.data) == plain.data


def test_a_large_answer_streams_without_content_length(es, monkeypatch):
    small = es("/v2/Api/Activities", date=DAY, type="Sends")
    monkeypatch.setattr(views, "KNOWN_LENGTH_LIMIT", 100)
    streamed = es("/v2/Api/Activities", date=DAY, type="Sends")
    assert "Content-Length" not in streamed.headers and streamed.data == small.data


def test_known_length_reads_a_small_stream_whole_and_passes_a_large_one_on():
    assert known_length(iter([b"ab", b"c"]), 3) == (3, [b"ab", b"c"])
    size, rest = known_length(iter([b"ab", b"cd", b"e"]), 3)
    assert size is None and b"".join(rest) == b"abcde"
