"""Activities rows agree with the world, round-trip through csv and a strict RFC 4180 parser, stream."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from emulator.vendors.expertsender.activities import local_day
from emulator.world import model as m

from .conftest import DAY, parse

EVENT = {"Subscriptions": m.SUBSCRIBED, "Confirmations": m.CONFIRMED, "Sends": m.SENT, "Opens": m.OPENED,
         "Clicks": m.CLICKED, "Complaints": m.COMPLAINED, "Removals": m.UNSUBSCRIBED, "Bounces": m.BOUNCED,
         "Goals": m.GOAL}
REMOVAL_REASONS = {"Subscriber", "User", "Bounce", "Spam", "UserUnknown", "Api"}  # seed "Removal reasons"
BOUNCE_REASONS = {"UserUnknown", "MailboxFull", "Blocked", "OutOfOffice", "Unknown", "Other"}  # seed


def strict_rfc4180(text: str) -> list[list[str]]:
    """A strict RFC 4180 parser: CRLF records, quoted fields only with doubled quotes, nothing stray."""
    records, field, record, i, n = [], "", [], 0, len(text)
    while i < n:
        if text[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unterminated quoted field")
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        field += '"'
                        i += 2
                        continue
                    i += 1
                    break
                field += text[i]
                i += 1
            if i < n and text[i] not in ",\r":
                raise ValueError(f"stray character after a quoted field at {i}")
        else:
            while i < n and text[i] not in ',\r"\n':
                field += text[i]
                i += 1
            if i < n and text[i] in '"\n':
                raise ValueError(f"bare quote or LF in an unquoted field at {i}")
        if i < n and text[i] == ",":
            record.append(field)
            field = ""
            i += 1
        elif i < n and text.startswith("\r\n", i):
            record.append(field)
            records.append(record)
            record, field = [], ""
            i += 2
        elif i < n:
            raise ValueError(f"CR without LF at {i}")
    if field or record:
        raise ValueError("the last record has no CRLF")
    return records


def world_events(core, activity: str, channel: str = "Email", day: str = DAY):
    tz = ZoneInfo(core.settings.expertsender_timezone)
    start, end = local_day(date.fromisoformat(day), tz)
    events = [e for e in core.world.events(start, end, (EVENT[activity],)) if not e.duplicate]
    if channel != "All":
        events = [e for e in events if e.channel == (m.SMS if channel == "SmsMms" else m.EMAIL)]
    return events, tz


def day_with(core, activity: str) -> str:
    """DAY, or the latest day of the week before it holding the activity's events: a complaint ends the
    recipient's lifecycle (emulator/world/lifecycle.py), so one day of the world may hold none."""
    for back in range(8):
        day = (date.fromisoformat(DAY) - timedelta(days=back)).isoformat()
        if world_events(core, activity, day=day)[0]:
            return day
    return DAY


@pytest.mark.parametrize("activity", list(EVENT))
def test_rows_are_the_days_events_of_that_type(es, core, activity):
    day = day_with(core, activity)
    data = es("/v2/Api/Activities", date=day, type=activity, columns="Extended", returnGuid="true").data
    header, *rows = parse(data)
    events, tz = world_events(core, activity, day=day)
    assert len(rows) == len(events) > 0
    col = {name: i for i, name in enumerate(header)}
    for row, e in zip(rows, events):
        person = core.world.recipient(e.recipient)
        assert row[col["Date"]] == datetime.fromtimestamp(e.ts // 1000, tz).strftime("%Y-%m-%d %H:%M:%S")
        assert row[col["Email"]] == person.email
        assert row[col["CustomSubscriberId"]] == person.custom_id
        if "MessageId" in col and e.message_id:
            msg = core.world.message(e.message_id)
            assert row[col["MessageId"]] == str(msg.id)
            assert row[col["ListId"]] == str(msg.list_id)
            assert row[col.get("MessageGuid")] == core.world.message_guid(msg.id, e.recipient)
            if "MessageSubject" in col:
                assert row[col["MessageSubject"]] == msg.subject_for(e.variation)
    if activity == "Removals":
        assert {r[col["Reason"]] for r in rows} <= REMOVAL_REASONS
    if activity == "Bounces":
        assert {r[col["Reason"]] for r in rows} <= BOUNCE_REASONS and len({r[col["Reason"]] for r in rows}) > 1


def test_clicks_carry_the_link_url_and_title(es, core):
    header, *rows = parse(es("/v2/Api/Activities", date=DAY, type="Clicks", returnTitle="true").data)
    events, _ = world_events(core, "Clicks")
    for row, e in zip(rows, events):
        link = core.world.message(e.message_id).links[e.link]
        assert row[header.index("Url")] == link.url and row[header.index("Title")] == link.title


def test_segment_id_is_zero_when_only_a_list_was_used(es):
    """Seed: 'If only a list was used then it will return 0.'"""
    header, *rows = parse(es("/v2/Api/Activities", date=DAY, type="Sends", returnSegmentId="true").data)
    values = {r[header.index("SegmentId")] for r in rows}
    assert "0" in values


def test_channel_selects_email_or_sms_rows_and_all_labels_them(es, core):
    """channel defaults to Email; SmsMms rows carry a phone, email rows an email (issue 5)."""
    default = parse(es("/v2/Api/Activities", date=DAY, type="Subscriptions").data)
    sms = parse(es("/v2/Api/Activities", date=DAY, type="Subscriptions", channel="SmsMms").data)
    both = parse(es("/v2/Api/Activities", date=DAY, type="Subscriptions", channel="All").data)
    assert len(default) - 1 == len(world_events(core, "Subscriptions")[0])
    assert len(sms) > 1 and all(r[1] == "" and r[2].isdigit() for r in sms[1:])
    assert all(r[1] and r[2] == "" for r in default[1:])
    assert len(both) - 1 == len(default) - 1 + len(sms) - 1
    assert {r[-1] for r in both[1:]} == {"Email", "SmsMms"}


def test_tags_filter_needs_every_tag(es, core):
    """Seed: each comma works as AND."""
    header, *rows = parse(es("/v2/Api/Activities", date=DAY, type="Sends").data)
    tag = next(t for r in rows for t in core.world.message(int(r[header.index("MessageId")])).tags
               if t not in ("API", "D&D", "A/B"))
    _, *tagged = parse(es("/v2/Api/Activities", date=DAY, type="Sends", tags=tag).data)
    assert 0 < len(tagged) <= len(rows)
    assert all(tag in core.world.message(int(r[3])).tags for r in tagged)
    _, *none = parse(es("/v2/Api/Activities", date=DAY, type="Sends", tags=f"{tag},no-such-tag").data)
    assert none == []


def test_csv_round_trips_through_csv_module_and_a_strict_rfc4180_parser(es):
    """Seed CSV settings: comma, '"' quoting, '"' escape, UTF-8; values with commas, quotes, non-ASCII."""
    data = es("/v2/Api/Activities", date=DAY, type="Clicks", returnTitle="true").data
    text = data.decode("utf-8")
    assert strict_rfc4180(text) == parse(data)
    assert '""' in text or any("," in f for r in parse(data) for f in r)
    assert any(ord(ch) > 127 for ch in text)


def test_same_path_without_v2_prefix(es):
    assert es("/Api/Activities", date=DAY, type="Sends").data == es("/v2/Api/Activities", date=DAY, type="Sends").data


def test_parameter_names_and_values_are_case_insensitive(es):
    plain = es("/v2/Api/Activities", date=DAY, type="Clicks", channel="All").data
    assert es("/v2/Api/Activities", apikey="test_api_key1", DATE=DAY, type="clicks", channel="all").data == plain


def test_bom_and_line_end_options(tmp_path):
    from emulator.app import create_app
    from emulator.settings import Settings

    from .conftest import NOW

    app = create_app(Settings(state_dir=str(tmp_path), expertsender_csv_bom=True, expertsender_line_end="lf"))
    app.config["EMULATOR_CORE"].clock.set(NOW)
    data = app.test_client().get(f"/expertsender/v2/Api/Activities?apiKey=test_api_key1&date={DAY}&type=Sends").data
    assert data.startswith(b"\xef\xbb\xbfDate,Email,") and b"\r\n" not in data


def test_date_selects_the_business_units_local_day(es, core):
    """Dates in the business unit's time zone (Europe/Warsaw by default); a local day is 23 h across DST."""
    _header, *rows = parse(es("/v2/Api/Activities", date="2026-03-29", type="Sends").data)
    assert all(r[0].startswith("2026-03-29 ") for r in rows)
    start, end = local_day(date(2026, 3, 29), ZoneInfo("Europe/Warsaw"))
    assert end - start == 23 * 3_600_000


def test_today_lists_only_what_has_happened(es, core):
    _header, *rows = parse(es("/v2/Api/Activities", date="2026-03-12", type="Sends").data)
    assert all(r[0] <= "2026-03-12 10:00:00" for r in rows)  # virtual now is 09:00 UTC = 10:00 Warsaw


@pytest.mark.parametrize("channel", ["Email", "SmsMms", "All"])
def test_worlds_beyond_the_recipient_cache_write_the_same_contact_columns(es, monkeypatch, channel):
    """Above scale 13 the rows read each recipient's contact columns (World.contact) instead of whole
    recipients: the same Email, Phone and CustomSubscriberId, SmsMms rows with a phone and no email."""
    from emulator.vendors.expertsender import activities

    query = {"date": DAY, "type": "Sends", "channel": channel}
    cached = es("/v2/Api/Activities", **query).data
    monkeypatch.setattr(activities, "RECIPIENT_CACHE", 0)
    rebuilt = es("/v2/Api/Activities", **query).data
    assert len(parse(rebuilt)) > 100
    assert rebuilt == cached
