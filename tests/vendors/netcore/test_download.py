"""Download Logs (seed: "Download Logs - POST"; the lifecycle is the emulator's design, notes §5): a job id,
a status endpoint, a CSV file (gzip on request) from a signed URL that expires (410)."""

from __future__ import annotations

import csv
import gzip
import io

from .conftest import day

DOWNLOAD = "/netcore/v6/logs/download"


def request_download(client, v6, **body):
    response = client.post(DOWNLOAD, json={"start_date": day(-2), "end_date": day(-2), **body}, headers=v6)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["data"]


def test_download_is_pending_then_ready_with_a_csv_file(client, core, v6):
    job = request_download(client, v6, events=["click"])
    assert job["state"] == "pending" and job["request_id"]
    status = client.get(job["status_url"], headers=v6).get_json()["data"]
    assert status["state"] == "pending" and "download_url" not in status
    early = client.get(f"{DOWNLOAD}/{job['request_id']}/file?signature=x")
    assert early.status_code in (403, 404)
    core.clock.advance(60)
    status = client.get(job["status_url"], headers=v6).get_json()["data"]
    assert status["state"] == "ready" and status["file_format"] == "csv"
    response = client.get(status["download_url"])  # the signed URL needs no key
    assert response.status_code == 200 and response.content_type.startswith("text/csv")
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["trid", "message_id", "status"]
    assert len(rows) > 1 and {r[2] for r in rows[1:]} == {"click"}


def test_gzip_on_request_and_the_same_bytes_every_time(client, core, v6):
    plain = request_download(client, v6, events=["open"])
    packed = request_download(client, v6, events=["open"], compression="gzip")
    core.clock.advance(60)
    urls = [client.get(j["status_url"], headers=v6).get_json()["data"]["download_url"] for j in (plain, packed)]
    text = client.get(urls[0]).get_data()
    gz = client.get(urls[1])
    assert gz.content_type == "application/gzip"
    assert gzip.decompress(gz.get_data()) == text
    assert client.get(urls[0]).get_data() == text  # rendered on demand, byte-identical


def test_expired_download_is_gone(client, core, v6):
    job = request_download(client, v6)
    core.clock.advance(60)
    url = client.get(job["status_url"], headers=v6).get_json()["data"]["download_url"]
    core.clock.advance(core.settings.netcore_download_ttl + 1)
    assert client.get(url).status_code == 410
    gone = client.get(job["status_url"], headers=v6)
    assert gone.status_code == 410 and gone.get_json()["status"] == "error"


def test_wrong_signature_and_unknown_request(client, core, v6):
    job = request_download(client, v6)
    core.clock.advance(60)
    forged = client.get(f"{DOWNLOAD}/{job['request_id']}/file?signature=0000")
    assert forged.status_code == 403 and forged.get_json()["error"][0]["field"] == "signature"
    missing = client.get(f"{DOWNLOAD}/no-such-id", headers=v6)
    assert missing.status_code == 404 and missing.get_json()["status"] == "error"


def test_download_request_is_checked_like_the_logs(client, v6):
    bad = client.post(DOWNLOAD, json={"start_date": day(-2), "compression": "zip"}, headers=v6)
    assert bad.status_code == 400 and bad.get_json()["error"][0]["field"] == "compression"
    old = client.post(DOWNLOAD, json={"start_date": day(-120)}, headers=v6)
    assert old.status_code == 400 and old.get_json()["error"][0]["field"] == "start_date"
    assert client.post(DOWNLOAD, json={"start_date": day(-2)}).status_code == 401
