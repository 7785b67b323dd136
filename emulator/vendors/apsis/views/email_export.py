"""Email event export (APSIS One API: Request email event export): POST /emails/reports,
GET /emails/reports/{report_id} and the file.

The status answers pending, then completed with a short-lived file_download_url (credentials in its query,
or with header_auth=true in an x-apsis-auth header the download must send), or error when processing
failed or the data set is over the size limit. After file_expires_at the export is gone (410).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for

from ....core import Core
from ....exports import FAILED, PENDING, TOO_LARGE, Job
from ...base import fault_decision
from ..account import Account, iso
from ..auth import sign_download, valid_download
from ..checks import check_pending, check_window, checked, invalid, parse_time_ms
from ..email_csv import gzip_csv
from ..errors import Problem

bp = Blueprint("email_export", __name__)
KIND = "email_events"
FILE_TTL = 86_400  # seconds the file lives after it is ready (file_expires_at; emulator choice)
# "Request email event export": "If there are over 25 sections on the account then HTTP 413"
MAX_SECTIONS = 25


def core() -> Core:
    return current_app.config["EMULATOR_CORE"]


@bp.post("/emails/reports")
def request_export() -> Response:
    c = core()
    acc = Account(c)
    job_request = parse_request(acc, checked("POST", "/emails/reports")["__body__"], c.clock.now_ms())
    if len(acc.sections()) > MAX_SECTIONS:
        raise Problem(
            413,
            f"The account has {len(acc.sections())} sections; email event exports support "
            f"accounts with at most {MAX_SECTIONS} sections.",
        )
    check_pending(c, KIND, "email event exports")
    sections = job_request["sections"]
    segment = next((s for s in acc.cat.segments if s.id == job_request["segment_id"]), None)
    rows = acc.estimate_event_rows(
        job_request["start_ms"],
        job_request["until_ms"],
        set(sections) if sections is not None else None,
        segment,
    )
    extra_columns = len(job_request["attributes"]) + len(job_request["tags"])
    # "Request email event export": many attributes or events -> too large
    cells = rows * (20 + extra_columns) // 20
    job = c.exports.create(
        "apsis",
        KIND,
        job_request,
        estimated_events=cells,
        ttl=FILE_TTL,
        modifiers=fault_decision().export,
        size_limit=c.settings.apsis_export_size_limit,
        meta={"estimated_rows": rows},
    )
    return Response(json.dumps({"report_id": job.id}), status=202, content_type="application/json")


def parse_request(acc: Account, body: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The export's request in account terms (indexes, ids); 400 naming the field for unknown items."""
    start_ms = parse_time_ms(body["start_at"], "start_at")
    end_ms = parse_time_ms(body["end_at"], "end_at") if "end_at" in body else now_ms
    check_window(
        start_ms, end_ms, None if "end_at" in body else "the time of the request"
    )  # "Request email event export": three months at most, validated when requesting
    sections = None
    if "sections" in body:
        sections = sorted({acc.section(d, f"sections[{i}]").index for i, d in enumerate(body["sections"])})
    segment = acc.segment(body.get("segment_filter"))
    attributes = []
    for i, spec in enumerate(body.get("additional_attribute_mappings") or []):
        field = f"additional_attribute_mappings[{i}]"
        attr = acc.attribute(spec["attribute_discriminator"], f"{field}.attribute_discriminator")
        version = spec.get("version_id", attr.version_id)
        if version not in attr.version_ids:
            raise invalid(f"{field}.version_id", f"attribute {attr.discriminator!r} has no version {version}")
        attributes.append({"discriminator": attr.discriminator, "version_id": version})
    tags = []
    for i, spec in enumerate(body.get("additional_tag_mappings") or []):
        tag = acc.tag(spec["tag_discriminator"], f"additional_tag_mappings[{i}].tag_discriminator")
        tags.append({"discriminator": tag.discriminator, "id": tag.id})
    return {
        "start_ms": start_ms,
        "end_ms": end_ms,
        "until_ms": min(end_ms, now_ms),  # events after the request do not exist yet
        "sections": sections,
        "segment_id": segment.id if segment else 0,
        "attributes": attributes,
        "tags": tags,
    }


def _job(c: Core, report_id: str) -> Job:
    job = c.exports.get(report_id, vendor="apsis")
    if job is None or job.kind != KIND:
        raise Problem(404, f"Email event export {report_id!r} was not found.")
    if job.state(c.clock.now()) == "expired":
        raise Problem(
            410, f"Email event export {report_id!r} is no longer available (file_expires_at passed)."
        )
    return job


@bp.get("/emails/reports/<report_id>")
def status(report_id: str) -> Response:
    c = core()
    values = checked("GET", "/emails/reports/{report_id}", report_id=report_id)
    job = _job(c, report_id)
    now = c.clock.now()
    state = job.state(now)
    body: dict = {"report_id": job.id}
    headers: dict[str, str] = {}
    if state == PENDING:
        body["status"] = "pending"
    elif state == FAILED:
        body["status"] = "error"
        body["error"] = (
            "The export exceeds the maximum file size: request a smaller data subset (a shorter "
            "window, fewer attributes or tags)."
            if job.outcome == TOO_LARGE
            else "Export processing failed: request a new export."
        )
    else:
        ttl = float(c.faults.option("apsis.download_url_ttl", c.settings.apsis_download_url_ttl))
        expires = int(min(now + ttl, job.expires_at))
        signature = sign_download(c, job.id, expires)
        url = url_for("email_export.download", report_id=job.id, _external=True)
        if values.get("header_auth"):
            headers["x-apsis-auth"] = f"{expires}.{signature}"  # "Get email event export status": header_auth
        else:
            url += "?" + urlencode({"expires": expires, "signature": signature})
        body.update(
            status="completed",
            file_download_url=url,
            file_download_url_expires_at=iso(expires * 1000),
            file_expires_at=iso(int(job.expires_at * 1000)),
        )
    return Response(json.dumps(body), status=200, content_type="application/json", headers=headers)


@bp.get("/emails/reports/<report_id>/file")
def download(report_id: str) -> Response:
    c = core()
    values = checked("GET", "/emails/reports/{report_id}/file", report_id=report_id)
    job = _job(c, report_id)
    if job.state(c.clock.now()) != "ready":
        raise Problem(404, f"Email event export {report_id!r} has no file: check its status first.")
    expires, signature = values.get("expires"), values.get("signature")
    expires = int(expires) if expires is not None else None  # digits (the contract's pattern)
    header = request.headers.get("x-apsis-auth")
    if header:
        raw_expires, _, signature = header.partition(".")
        expires = int(raw_expires) if raw_expires.isdigit() else None
    if expires is None or not signature or not valid_download(c, job.id, expires, signature):
        raise Problem(
            403,
            "Missing or invalid download credentials: use the file_download_url (and, with "
            "header_auth, the x-apsis-auth header) from GET /emails/reports/{report_id}.",
        )
    if c.clock.now() >= expires:
        raise Problem(
            403, "The download URL has expired: call GET /emails/reports/{report_id} for a fresh one."
        )
    stream = gzip_csv(Account(c), job.request, c.settings.gzip_level, c.settings.render_processes,
                      job.meta.get("estimated_rows", 0))
    return Response(
        stream,
        status=200,
        content_type="application/gzip",
        direct_passthrough=True,
        headers={"Content-Disposition": f'attachment; filename="email-events-{job.id}.csv.gz"'},
    )
