"""Profile in segment event export ("APSIS One API: Request profile in segment event export"): POST
/audience/profiles/exports answers a poll URL valid for one day; the poll URL answers 404 until ready, 200
with the JSON file (gzip when Accept-Encoding allows it), 410 once expired or for an unknown id, 503 when
processing failed."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from ....core import Core
from ....exports import EXPIRED, FAILED, PENDING, TOO_LARGE
from ....parallel import ExportProcessError
from ....writers import coalesce, gzip_stream
from ...base import fault_decision
from ..account import Account, iso
from ..checks import check_pending, check_window, checked, invalid, parse_time_ms
from ..errors import Problem, problem
from ..profile_json import json_file, no_temporary_directory, spills

bp = Blueprint("profile_export", __name__)
KIND = "profile_events"
# "Request profile in segment event export": "returns a poll URL that is valid for 1 day"
POLL_URL_TTL = 86_400
# "Request profile in segment event export": end_at defaults to one week after start_at
WEEK_MS = 7 * 86_400_000


def core() -> Core:
    return current_app.config["EMULATOR_CORE"]


@bp.post("/audience/profiles/exports")
def request_export() -> Response:
    c = core()
    acc = Account(c)
    job_request = parse_request(
        acc, checked("POST", "/audience/profiles/exports")["__body__"], c.clock.now_ms()
    )
    check_pending(c, KIND, "profile exports")
    segment = next((s for s in acc.cat.segments if s.id == job_request["segment_id"]), None)
    share = segment.share_permille / 1000 if segment else 1.0
    fields = len(job_request["attributes"]) + len(job_request["tags"])
    profiles = int(acc.world.size * share) if fields else 0
    event_rows = 0
    if job_request["events"] and job_request["until_ms"] > job_request["start_ms"]:
        event_rows = acc.estimate_event_rows(job_request["start_ms"], job_request["until_ms"], None, segment)
    job_request["estimated_event_rows"] = event_rows
    cells = profiles * (fields + len(job_request["topics"])) // 4 + event_rows
    if cells > c.settings.apsis_export_size_limit:
        # "Request profile in segment event export": a very large data set may give "a status of error when
        # attempting to request ... an export"
        raise Problem(
            413,
            "The requested data set exceeds the maximum file size: request a smaller subset "
            "(fewer attributes, tags or event types, or a shorter window).",
        )
    job = c.exports.create(
        "apsis",
        KIND,
        job_request,
        estimated_events=cells,
        ttl=POLL_URL_TTL,
        modifiers=fault_decision().export,
        meta={"estimated_profiles": profiles},
    )
    if fault_decision().export.expires_after is None:
        # The poll URL is valid for one day from the request, however long processing takes.
        job.expires_at = job.created_at + POLL_URL_TTL
        c.store.update_job(job.id, expires_at=job.expires_at)
    url = url_for("profile_export.poll", export_id=job.id, _external=True)
    payload = {
        "export_id": job.id,
        "file_download_url": url,
        "file_download_url_expires_at": iso(int(job.expires_at * 1000)),
    }
    return Response(json.dumps(payload), status=202, content_type="application/json")


def parse_request(acc: Account, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The export's request in account terms; 400 naming the field for unknown items or bad times."""
    attributes = []
    for i, disc in enumerate(body.get("attributes") or []):
        attr = acc.attribute(disc, f"attributes[{i}]")
        attributes.append({"discriminator": attr.discriminator, "version_id": attr.version_id})
    tags = []
    for i, disc in enumerate(body.get("tags") or []):
        tag = acc.tag(disc, f"tags[{i}]")
        tags.append({"discriminator": tag.discriminator, "id": tag.id})
    events = [acc.event_type(d, f"events[{i}]").canonical for i, d in enumerate(body.get("events") or [])]
    topics = [acc.topic(d, f"topics[{i}]").topic for i, d in enumerate(body.get("topics") or [])]
    segment = acc.segment(body.get("segment_filter"))
    start_ms = end_ms = until_ms = 0
    if events and "start_at" not in body:
        # "Request profile in segment event export": "start_at (mandatory)"
        raise invalid("start_at", "is required when events are requested")
    if "start_at" in body:
        start_ms = parse_time_ms(body["start_at"], "start_at")
        # "Request profile in segment event export": end_at defaults to one week after start_at; the window is
        # three months at most
        end_ms = parse_time_ms(body["end_at"], "end_at") if "end_at" in body else start_ms + WEEK_MS
        check_window(start_ms, end_ms)
        until_ms = min(end_ms, now_ms)  # events after the request do not exist yet
    return {
        "attributes": attributes,
        "tags": tags,
        "events": events,
        "topics": topics,
        "segment_id": segment.id if segment else 0,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "until_ms": until_ms,
        "at_ms": now_ms,  # topic states are those of the request's time
    }


@bp.get("/audience/profiles/exports/<export_id>")
def poll(export_id: str) -> Response:
    c = core()
    checked("GET", "/audience/profiles/exports/{export_id}", export_id=export_id)
    job = c.exports.get(export_id, vendor="apsis")
    state = job.state(c.clock.now()) if job is not None and job.kind == KIND else EXPIRED
    # "Request profile in segment event export": "410 Gone means that the file is no longer available or the
    # ID used is invalid"
    if state == EXPIRED:
        return problem(410, f"Export {export_id!r} is no longer available or the id is invalid.")
    # "Request profile in segment event export": "Until the result is ready, you will keep getting HTTP 404"
    # (answered, not raised: a client polls this again and again)
    if state == PENDING:
        return problem(404, f"Export {export_id!r} is not ready yet: poll again with exponential back-off.")
    # "Request profile in segment event export": "calling the poll URL returns HTTP 503 Service Unavailable"
    if state == FAILED:
        reason = (
            "the data set exceeds the maximum file size; request a smaller subset"
            if job.outcome == TOO_LARGE
            else "processing failed"
        )
        raise Problem(503, f"Export {export_id!r} failed: {reason}. Request a new export.")
    if spills(job.request) and (why := no_temporary_directory()):
        # Checked before the first byte: a file stopped midway would reach the client as a 200.
        raise Problem(503, f"Export {export_id!r} could not be written: the emulator needs a writable temporary "
                           f"directory for a file this big ({why}). Set TMPDIR, or mount a volume on /tmp.")
    try:
        stream = coalesce(json_file(Account(c), job.request, c.settings.render_processes))
    except (OSError, ExportProcessError) as exc:
        # A full $TMPDIR while the file spills: "Request profile in segment event export"
        # answers 503 for an export that could not be processed.
        if isinstance(exc, OSError):
            cause = exc.strerror or str(exc)
        else:  # a rendering process sent its traceback: the last line names the error
            cause = "a rendering process failed: " + (str(exc).strip().splitlines() or ["?"])[-1]
        raise Problem(503, f"Export {export_id!r} could not be written: {cause}. Free space in the temporary "
                           "directory ($TMPDIR) and poll again.") from None
    headers = {"Vary": "Accept-Encoding"}
    # "Request profile in segment event export": Accept-Encoding: gzip -> Content-Encoding: gzip
    if request.accept_encodings["gzip"] > 0:
        stream = gzip_stream(stream, c.settings.gzip_level)
        headers["Content-Encoding"] = "gzip"
    return Response(
        stream, status=200, content_type="application/json", headers=headers, direct_passthrough=True
    )
