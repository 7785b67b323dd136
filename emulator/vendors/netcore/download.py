"""Download Logs, POST (Netcore Email API: Events API: "Generate and download event log files for offline
or bulk processing").

No reference page was found, so everything past "POST" is the emulator's design, marked in the
contract: an asynchronous export on the core's lifecycle. POST /v6/logs/download (Bearer, the Fetch Logs
filters as JSON) answers 202 with a request id; GET /v6/logs/download/{request_id} tells pending, ready
(with a signed download URL) or failed; the file is CSV, gzip on request, and is gone (410) once expired.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, url_for

from ...core import Core
from ...exports import EXPIRED, FAILED, PENDING, TOO_LARGE, Job
from ...parallel import csv_blocks, plan
from ...world import HOUR_MS
from ...writers import coalesce, gzip_stream
from ..base import fault_decision
from .checks import checked
from .errors import NetcoreError
from .query import Query, hour_rows, hours
from .records import CSV_HEADER, csv_lines, local_time
from .views import v6_query

bp = Blueprint("netcore_download", __name__)
KIND = "logs"
EVENTS_PER_HOUR = 1_300  # rough share of Netcore rows per hour at scale 1, for the size estimate


def core() -> Core:
    return current_app.config["EMULATOR_CORE"]


def signature(c: Core, job_id: str) -> str:
    key = hashlib.sha256(f"netcore-download:{c.settings.seed}:{c.settings.netcore_api_key}".encode()).digest()
    return hmac.new(key, job_id.encode(), hashlib.sha256).hexdigest()[:32]


def _envelope(data: dict, status: int = 200, message: str = "") -> Response:
    return Response(json.dumps({"status": "success", "message": message, "data": data}), status=status,
                    content_type="application/json")


@bp.post("/v6/logs/download")
def request_download() -> Response:
    c = core()
    values = checked("POST", "/v6/logs/download")
    q = v6_query(c, values)
    until = min(q.end_ms, c.clock.now_ms())  # the file holds what exists now: a fixed, reproducible set
    estimate = int(max(0, until - q.start_ms) / HOUR_MS * EVENTS_PER_HOUR * c.settings.scale)
    ttl = float(c.faults.option("netcore.download_ttl", c.settings.netcore_download_ttl))
    compression = values.get("compression", "none")
    job = c.exports.create("netcore", KIND, {"query": q.to_dict(), "until_ms": until, "compression": compression},
                           estimated_events=estimate, ttl=ttl, modifiers=fault_decision().export,
                           size_limit=c.settings.netcore_download_max_events)
    data = {"request_id": job.id, "state": PENDING,
            "status_url": url_for("netcore_download.status", request_id=job.id, _external=True)}
    return _envelope(data, 202, "Download request accepted: poll status_url until the file is ready")


def _job(c: Core, request_id: str) -> Job:
    job = c.exports.get(request_id, vendor="netcore")
    if job is None or job.kind != KIND:
        raise NetcoreError(404, f"Download request {request_id!r} was not found",
                           [{"field": "request_id", "message": "no such download request"}])
    if job.state(c.clock.now()) == EXPIRED:
        raise NetcoreError(410, f"Download request {request_id!r} has expired: its file is no longer available",
                           [{"field": "request_id", "message": "expired"}])
    return job


@bp.get("/v6/logs/download/<request_id>")
def status(request_id: str) -> Response:
    c = core()
    checked("GET", "/v6/logs/download/{request_id}", request_id=request_id)
    job = _job(c, request_id)
    state = job.state(c.clock.now())
    tz = c.settings.netcore_timezone
    compression = job.request.get("compression", "none")
    data = {"request_id": job.id, "state": state, "file_format": "csv.gz" if compression == "gzip" else "csv",
            "requested_at": local_time(int(job.created_at * 1000), tz)}
    if state == FAILED:
        data["error"] = ("The export is larger than the download limit: narrow the range or filters"
                         if job.outcome == TOO_LARGE else "The export failed: request a new download")
    elif state != PENDING:
        url = url_for("netcore_download.file", request_id=job.id, _external=True)
        data["download_url"] = url + "?" + urlencode({"signature": signature(c, job.id)})
        data["expires_at"] = local_time(int(job.expires_at * 1000), tz)
    return _envelope(data)


@bp.get("/v6/logs/download/<request_id>/file")
def file(request_id: str) -> Response:
    c = core()
    values = checked("GET", "/v6/logs/download/{request_id}/file", request_id=request_id)
    job = _job(c, request_id)
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters.
    if not hmac.compare_digest(values["signature"].encode(), signature(c, job.id).encode()):
        raise NetcoreError(403, "The download URL is not valid: use download_url from the status answer",
                           [{"field": "signature", "message": "does not match this download"}])
    state = job.state(c.clock.now())
    if state != "ready":
        reason = "is not ready yet" if state == PENDING else "failed and has no file"
        raise NetcoreError(404, f"Download request {request_id!r} {reason}",
                           [{"field": "request_id", "message": reason}])
    q = Query.from_dict(job.request["query"])
    until = job.request["until_ms"]
    # Hour by hour on several cores for a big file (emulator.parallel); else all its hours in one go.
    work = c.world.export_work(q.start_ms, min(q.end_ms, until), job.meta.get("estimated_events", 0))
    in_file = hours(c, q, until)
    processes, blocks = plan(c.settings.render_processes, work, [[hour] for hour in in_file], in_file)
    chunks = coalesce(csv_blocks(CSV_HEADER, blocks, lambda part: csv_lines(c, hour_rows(c, q, until, part)),
                                 processes, encoding="latin-1"))  # csv_lines' UTF-8 bytes as Latin-1 text
    name = f"netcore-logs-{job.id}.csv"
    if job.request.get("compression") == "gzip":
        return Response(gzip_stream(chunks, c.settings.gzip_level), content_type="application/gzip",
                        direct_passthrough=True,
                        headers={"Content-Disposition": f'attachment; filename="{name}.gz"'})
    return Response(chunks, content_type="text/csv; charset=utf-8", direct_passthrough=True,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
