"""`email-events-emulator generate`: each vendor's export written to disk by `main(["generate", ...])` is
byte-identical to what the in-process server answers for the same request (the conftest client flow, same
seed and scale); a progress bar on a terminal only; bad arguments and vendor errors exit 2.

Both sides run on the real clock (virtual offset 0) and export a window ten days back: in the past of the
virtual now, within Netcore's 90-day retention."""

from __future__ import annotations

import gzip
import io
import json
import sys
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from emulator.cli import main
from emulator.generate import CountMeter, Progress, TimeMeter
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET, Settings

SCALE = "0.2"
DAY = datetime.now(UTC).date() - timedelta(days=10)
NEXT = DAY + timedelta(days=1)


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch):
    """generate reads EMULATOR_* like serve: keep the caller's variables out of the comparison."""
    for name in ("EMULATOR_SEED", "EMULATOR_SCALE", "EMULATOR_SCENARIO", "EMULATOR_GZIP_LEVEL",
                 "EMULATOR_EXPERTSENDER_TIMEZONE", "EMULATOR_NETCORE_TIMEZONE", "EMULATOR_EXPORT_DELAY",
                 "EMULATOR_EXPERTSENDER_CSV_BOM", "EMULATOR_EXPERTSENDER_LINE_END"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(state_dir=str(tmp_path / "state"), seed=42, scale=float(SCALE))


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def generated(tmp_path, *args: str, name: str = "out.bin") -> bytes:
    out = tmp_path / name
    assert main(["generate", *args, "--seed", "42", "--scale", SCALE, "-q", "-o", str(out)]) == 0
    return out.read_bytes()


def poll(core, call, ready):
    """Call until `ready(response)`, moving the virtual clock instead of sleeping."""
    step = 1.0
    for _ in range(20):
        response = call()
        if ready(response):
            return response
        core.clock.advance(step)
        step *= 2
    raise AssertionError("never ready")


def apsis_auth(client) -> dict[str, str]:
    token = client.post("/apsis/oauth/token", json={
        "grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
        "client_secret": DEFAULT_APSIS_CLIENT_SECRET}).get_json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


# -- byte-identical per vendor and kind --------------------------------------------------------------------


def test_apsis_email_events_are_the_served_file_and_none_gunzips_it(client, core, tmp_path):
    mappings = [{"attribute_discriminator": "com.apsis1.attributes.gender"}]
    body = {"start_at": f"{DAY}T06:00:00Z", "end_at": f"{DAY}T18:00:00Z",
            "additional_attribute_mappings": mappings}
    auth = apsis_auth(client)
    report = client.post("/apsis/emails/reports", json=body, headers=auth).get_json()["report_id"]
    status = poll(core, lambda: client.get(f"/apsis/emails/reports/{report}", headers=auth),
                  lambda r: r.get_json()["status"] != "pending").get_json()
    served = client.get(local(status["file_download_url"])).get_data()
    args = ["apsis", "email-events", "--start", body["start_at"], "--end", body["end_at"],
            "--param", f"additional_attribute_mappings={json.dumps(mappings)}"]
    assert generated(tmp_path, *args) == served
    plain = generated(tmp_path, *args, "--compression", "none")
    assert plain == gzip.decompress(served)
    assert plain.startswith(b"activity_id,split_id") and b"gender (version_id: " in plain[:1000]
    assert plain.count(b"\r\n") > 100


def test_apsis_email_events_of_a_date_are_that_utc_day(client, core, tmp_path):
    auth = apsis_auth(client)
    report = client.post("/apsis/emails/reports", json={"start_at": f"{DAY}T00:00:00Z", "end_at": f"{NEXT}T00:00:00Z"},
                         headers=auth).get_json()["report_id"]
    status = poll(core, lambda: client.get(f"/apsis/emails/reports/{report}", headers=auth),
                  lambda r: r.get_json()["status"] != "pending").get_json()
    served = client.get(local(status["file_download_url"])).get_data()
    assert generated(tmp_path, "apsis", "email-events", "--date", str(DAY)) == served
    assert generated(tmp_path, "apsis", "email-events", "--start", str(DAY)) == served  # end: a day later


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_apsis_profile_events_are_the_served_body(client, core, tmp_path, compression):
    body = {"attributes": ["com.apsis1.attributes.email", "com.apsis1.attributes.gender"],
            "events": ["com.apsis1.events.email.opened"], "start_at": f"{DAY}T00:00:00Z",
            "end_at": f"{NEXT}T00:00:00Z"}
    auth = apsis_auth(client)
    url = local(client.post("/apsis/audience/profiles/exports", json=body, headers=auth).get_json()["file_download_url"])
    headers = {**auth, **({"Accept-Encoding": "gzip"} if compression == "gzip" else {})}
    served = poll(core, lambda: client.get(url, headers=headers), lambda r: r.status_code != 404)
    assert served.status_code == 200
    written = generated(tmp_path, "apsis", "profile-events", "--date", str(DAY), "--compression", compression,
                        "--param", f"attributes={json.dumps(body['attributes'])}",
                        "--param", f"events={json.dumps(body['events'])}")
    assert written == served.get_data()
    profiles = json.loads(gzip.decompress(written) if compression == "gzip" else written)
    assert any(p["sections"][s].get("events") for p in profiles.values() for s in p["sections"])


def test_expertsender_activities_are_the_served_csv(client, tmp_path):
    key = client.application.config["EMULATOR_CORE"].settings.expertsender_api_key
    query = {"apiKey": key, "date": str(DAY), "type": "Clicks", "columns": "Extended", "returnGuid": "true"}
    served = client.get("/expertsender/v2/Api/Activities", query_string=query)
    assert served.status_code == 200
    written = generated(tmp_path, "expertsender", "activities", "--date", str(DAY), "--type", "Clicks",
                        "--param", "columns=Extended", "--param", "returnGuid=true")
    assert written == served.get_data() and written.count(b"\n") > 10
    zipped = generated(tmp_path, "expertsender", "activities", "--date", str(DAY), "--type", "Clicks",
                       "--param", "columns=Extended", "--param", "returnGuid=true", "--compression", "gzip")
    assert gzip.decompress(zipped) == served.get_data()  # served plain by default (EMULATOR_EXPERTSENDER_GZIP)


def test_expertsender_range_writes_one_file_per_day(client, tmp_path):
    key = client.application.config["EMULATOR_CORE"].settings.expertsender_api_key
    out = tmp_path / "days"
    first = DAY - timedelta(days=2)
    assert main(["generate", "expertsender", "activities", "--start", str(first), "--end", str(DAY),
                 "--type", "Opens", "--seed", "42", "--scale", SCALE, "-q", "-o", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"activities-Opens-{first + timedelta(days=n)}.csv" for n in range(3)]
    for n in range(3):
        day = first + timedelta(days=n)
        served = client.get("/expertsender/v2/Api/Activities",
                            query_string={"apiKey": key, "date": str(day), "type": "Opens"}).get_data()
        assert (out / f"activities-Opens-{day}.csv").read_bytes() == served


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_netcore_download_is_the_served_file(client, core, tmp_path, compression):
    auth = {"Authorization": f"Bearer {core.settings.netcore_api_key}"}
    body = {"start_date": str(DAY - timedelta(days=1)), "end_date": str(DAY), "events": ["open", "click"],
            "sort": "desc", "compression": compression}
    job = client.post("/netcore/v6/logs/download", json=body, headers=auth)
    assert job.status_code == 202, job.get_json()
    status_url = local(job.get_json()["data"]["status_url"])
    status = poll(core, lambda: client.get(status_url, headers=auth),
                  lambda r: r.get_json()["data"]["state"] != "pending").get_json()["data"]
    served = client.get(local(status["download_url"])).get_data()
    written = generated(tmp_path, "netcore", "download", "--start", body["start_date"], "--end", body["end_date"],
                        "--param", 'events=["open", "click"]', "--param", "sort=desc",
                        "--compression", compression)
    assert written == served
    text = gzip.decompress(written) if compression == "gzip" else written
    assert text.startswith(b"trid,message_id,status") and text.count(b"\n") > 100


# -- progress and summary ------------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal(tmp_path, monkeypatch):
    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    out = tmp_path / "n.csv"
    assert main(["generate", "netcore", "download", "--date", str(DAY), "--scale", SCALE, "-o", str(out)]) == 0
    text = tty.getvalue()
    assert "\rnetcore download " in text and "[" + "#" * Progress.WIDTH + "] 100%" in text
    assert " rows " in text and "MB/s" in text
    rows = out.read_bytes().count(b"\n") - 1
    summary = text.rstrip().rsplit("\n", 1)[1]  # the summary line after the bar
    assert summary.startswith(f"{out}: {out.stat().st_size:,} bytes, {rows:,} rows, ")


def test_no_bar_without_a_terminal_and_nothing_when_quiet(tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["generate", "expertsender", "activities", "--date", str(DAY), "--scale", SCALE, "-o",
                 str(out)]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "[" not in err
    assert err.startswith(f"{out}: {out.stat().st_size:,} bytes, ") and err.count("\n") == 1
    assert main(["generate", "expertsender", "activities", "--date", str(DAY), "--scale", SCALE, "-q", "-o",
                 str(out)]) == 0
    assert capsys.readouterr() == ("", "")


def test_time_meter_reads_the_last_complete_row():
    meter = TimeMeter("Date", 0.0, 100.0, float)
    meter.feed(b"Email,Date\r\na@x,10\r\nb@x,")
    assert meter.fraction() == pytest.approx(0.10) and meter.rows == 1
    meter.feed(b"50\r\nc@x,4")
    assert meter.fraction() == pytest.approx(0.50) and meter.rows == 2
    reverse = TimeMeter("Date", 0.0, 100.0, float, reverse=True)
    reverse.feed(b"Date\n90\n")
    assert reverse.fraction() == pytest.approx(0.10)
    profiles = CountMeter(b'"sections":{', 4, "profiles")
    profiles.feed(b'{"a":{"sections":{}},"b":{"sections":{}}')
    assert profiles.fraction() == 0.5 and profiles.rows == 2


def test_progress_is_silent_when_disabled():
    pipe = io.StringIO()
    progress = Progress(pipe, "x", False)
    progress.shown = -1.0
    progress.update(1_000_000)
    progress.finish()
    assert pipe.getvalue() == ""


# -- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["bogus", "email-events"], "unknown vendor 'bogus': one of apsis, expertsender, netcore"),
    (["apsis", "activities"], "unknown kind 'activities' for apsis: one of email-events, profile-events"),
    (["netcore", "download", "--start", "yesterday"], "--start: expected YYYY-MM-DD or RFC 3339"),
    (["netcore", "download", "--date", str(DAY), "--end", str(DAY)], "--date replaces --start and --end"),
    (["netcore", "download"], "netcore download needs --start"),
    (["expertsender", "activities", "--start", str(DAY), "--end", str(DAY - timedelta(days=1))],
     "--end is before --start"),
    (["netcore", "download", "--date", str(DAY), "--param", "events"], "--param needs NAME=VALUE"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    assert main(["generate", *args, "-o", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_vendor_errors_exit_2_with_the_vendor_body_and_leave_no_file(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["generate", "expertsender", "activities", "--date", str(DAY), "--type", "Nope", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Activities: HTTP 400: " in err and "<ApiResponse" in err and "type" in err
    old = date.today() - timedelta(days=200)
    assert main(["generate", "netcore", "download", "--date", str(old), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "download request: HTTP 400: " in err and '"field": "start_date"' in err
    assert main(["generate", "apsis", "email-events", "--date", str(DAY), "--scenario", "export-fails",
                 "-o", str(out)]) == 2
    assert "the export ended as 'error'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no partial file either


def test_a_dropped_connection_exits_2_and_keeps_only_the_complete_days(tmp_path, capsys):
    out = tmp_path / "days"
    # expertsender-truncated-stream cuts every second CSV after 1 KiB and drops the connection
    assert main(["generate", "expertsender", "activities", "--start", str(DAY - timedelta(days=1)), "--end",
                 str(DAY), "--type", "Opens", "--scale", SCALE, "--scenario", "expertsender-truncated-stream",
                 "-q", "-o", str(out)]) == 2
    assert "dropped the connection" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == [f"activities-Opens-{DAY - timedelta(days=1)}.csv"]


@pytest.mark.parametrize(("args", "message"), [
    (["apsis", "email-events", "--date", str(date.today() + timedelta(days=3))], "not in the past (now is "),
    (["apsis", "profile-events", "--start", str(date.today() + timedelta(days=3))],
     "not in the past (now is "),
    (["expertsender", "activities", "--date", str(date.today() + timedelta(days=3))], "after today ("),
    (["expertsender", "activities", "--start", str(DAY), "--end", str(date.today() + timedelta(days=2))],
     "after today ("),
    (["netcore", "download", "--date", str(date.today() + timedelta(days=3))], "must not be in the future"),
])
def test_a_future_window_is_refused_not_written_empty(tmp_path, capsys, args, message):
    """`generate` writes what has happened: a window after the virtual now holds no event, so every vendor
    refuses it with exit 2 and no file, as Netcore's own API does for a future start date ("Netcore Email
    API: Events API": startdate within the retention, up to today) instead of a header-only file."""
    out = tmp_path / "x"
    assert main(["generate", *args, "--scale", SCALE, "-q", "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
