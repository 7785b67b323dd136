"""`email-events-emulator generate` (issue 8): every vendor's export written to disk without a server,
byte-identical to what the server serves for the same request and seed."""

from __future__ import annotations

import gzip
import io
import json
import urllib.request
from datetime import date, timedelta

import pytest

from emulator.cli import main
from emulator.generate import Progress
from tests.e2e.server import running_server

TODAY = date.today()
DAY = TODAY - timedelta(days=10)  # in the past, within Netcore's 90-day retention


def _get(url: str, headers: dict | None = None, body: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("state"), "--workers", "1", "--scale", "0.3") as base:
        yield base


def _generate(tmp_path, *args: str) -> bytes:
    out = tmp_path / "out.bin"
    assert main(["generate", *args, "--scale", "0.3", "--quiet", "-o", str(out)]) == 0
    return out.read_bytes()


def _advance(base: str) -> None:
    _get(base + "/_emulator/clock", body={"advance": 300})


def test_expertsender_day_is_what_the_server_serves(server, tmp_path):
    from emulator.settings import DEFAULT_EXPERTSENDER_API_KEY

    served = _get(f"{server}/expertsender/v2/Api/Activities?apiKey={DEFAULT_EXPERTSENDER_API_KEY}"
                  f"&date={DAY}&type=Opens&columns=Extended&returnGuid=true")
    written = _generate(tmp_path, "expertsender", "activities", "--date", DAY.isoformat(), "--type", "Opens",
                        "--param", "columns=Extended", "--param", "returnGuid=true")
    assert written == served and written.count(b"\n") > 100


def test_netcore_download_is_what_the_server_serves(server, tmp_path):
    from emulator.settings import DEFAULT_NETCORE_API_KEY

    auth = {"Authorization": f"Bearer {DEFAULT_NETCORE_API_KEY}"}
    body = {"start_date": (DAY - timedelta(days=1)).isoformat(), "end_date": DAY.isoformat(),
            "events": ["open", "click"], "compression": "gzip"}
    job = json.loads(_get(server + "/netcore/v6/logs/download", auth, body))["data"]
    _advance(server)
    status = json.loads(_get(job["status_url"], auth))["data"]
    served = _get(status["download_url"])
    written = _generate(tmp_path, "netcore", "download", "--start", body["start_date"], "--end", body["end_date"],
                        "--param", 'events=["open", "click"]', "--compression", "gzip")
    assert written == served
    assert gzip.decompress(written).startswith(b"trid,message_id,status")


def test_apsis_email_export_is_what_the_server_serves_and_none_gunzips_it(server, tmp_path):
    from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET

    token = json.loads(_get(server + "/apsis/oauth/token", body={
        "grant_type": "client_credentials", "client_id": DEFAULT_APSIS_CLIENT_ID,
        "client_secret": DEFAULT_APSIS_CLIENT_SECRET}))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    window = {"start_at": f"{DAY}T00:00:00Z", "end_at": f"{DAY}T12:00:00Z"}
    report = json.loads(_get(server + "/apsis/emails/reports", auth, window))["report_id"]
    _advance(server)
    status = json.loads(_get(f"{server}/apsis/emails/reports/{report}", auth))
    served = _get(status["file_download_url"])
    written = _generate(tmp_path, "apsis", "email-events", "--start", window["start_at"], "--end",
                        window["end_at"])
    assert written == served
    plain = _generate(tmp_path, "apsis", "email-events", "--start", window["start_at"], "--end",
                      window["end_at"], "--compression", "none")
    assert plain == gzip.decompress(served) and plain.startswith(b"activity_id,split_id")


def test_apsis_profile_export_plain_and_gzip(tmp_path):
    plain = _generate(tmp_path, "apsis", "profile-events", "--start", DAY.isoformat())
    packed = _generate(tmp_path, "apsis", "profile-events", "--start", DAY.isoformat(), "--compression", "gzip")
    assert json.loads(plain) and gzip.decompress(packed) == plain


def test_several_expertsender_days_go_to_one_file_each(tmp_path):
    out = tmp_path / "days"
    assert main(["generate", "expertsender", "activities", "--start", str(DAY - timedelta(days=2)), "--end",
                 str(DAY), "--type", "Clicks", "--scale", "0.3", "-q", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        f"activities-Clicks-{DAY - timedelta(days=n)}.csv" for n in (2, 1, 0)]


def test_vendor_errors_and_bad_arguments_exit_2_with_the_message(tmp_path, capsys):
    assert main(["generate", "apsis", "bogus", "-o", str(tmp_path / "x")]) == 2
    assert "unknown kind 'bogus'" in capsys.readouterr().err
    assert main(["generate", "expertsender", "activities", "--date", str(DAY), "--type", "Nope", "-q",
                 "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "HTTP 400" in err and "<ApiResponse" in err  # the vendor's own XML error
    assert not (tmp_path / "x").exists()  # no file for a refused request


def test_progress_shows_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress(stream, "netcore download", stream.isatty())
        progress.shown = -1.0
        progress.update(2_000_000)
        progress.finish()
    assert "netcore download [" in tty.getvalue() and "MB/s" in tty.getvalue()
    assert pipe.getvalue() == ""
