"""Lookups an export client needs to map ids: sections, attributes, tags, events, consent lists and topics,
segments (one, and one version), keyspaces, channels and email activities. Lists are {"items": [...]}
(the official APSIS Magento and PrestaShop modules)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app

from ..account import EVENT_FIELDS, Account
from ..checks import checked
from ..errors import Problem

bp = Blueprint("lookups", __name__)


def account() -> Account:
    return Account(current_app.config["EMULATOR_CORE"])


def items(rows: list[dict[str, Any]]) -> Response:
    return ok({"items": rows})


def ok(payload: Any) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=200, content_type="application/json")


def in_section(path: str, section_discriminator: str) -> tuple[Account, Any]:
    """Check a section-scoped lookup against the contract; the account and the section (404 if unknown)."""
    checked("GET", path, section_discriminator=section_discriminator)
    acc = account()
    return acc, acc.section(section_discriminator)


def _versions(ids: tuple[int, ...], deprecated: tuple[str | None, ...] | None = None) -> list[dict[str, Any]]:
    deprecated = deprecated or tuple(None for _ in ids)
    return [{"id": i, "deprecated_at": d} for i, d in zip(ids, deprecated)]


@bp.get("/audience/sections")
def sections() -> Response:
    checked("GET", "/audience/sections")
    return items(
        [{"id": s.id, "discriminator": s.discriminator, "name": s.name} for s in account().sections()]
    )


@bp.get("/audience/sections/<section_discriminator>/attributes")
def attributes(section_discriminator: str) -> Response:
    acc, _ = in_section("/audience/sections/{section_discriminator}/attributes", section_discriminator)
    return items(
        [
            {
                "discriminator": a.discriminator,
                "name": a.name,
                "type": a.type,
                "versions": _versions(a.version_ids, a.deprecated_at),
            }
            for a in acc.cat.attributes
        ]
    )


@bp.get("/audience/sections/<section_discriminator>/tags")
def tags(section_discriminator: str) -> Response:
    acc, _ = in_section("/audience/sections/{section_discriminator}/tags", section_discriminator)
    return items([{"id": t.id, "discriminator": t.discriminator, "name": t.name} for t in acc.cat.tags])


@bp.get("/audience/sections/<section_discriminator>/events")
def events(section_discriminator: str) -> Response:
    acc, _ = in_section("/audience/sections/{section_discriminator}/events", section_discriminator)
    return items(
        [
            {
                "discriminator": e.discriminator,
                "name": e.name,
                "versions": _versions(e.version_ids),
                "fields": [{"name": n, "type": t} for n, t in EVENT_FIELDS[e.canonical]],
            }
            for e in acc.cat.event_types
        ]
    )


@bp.get("/audience/segments")
def segments() -> Response:
    checked("GET", "/audience/segments")
    return items([_segment_json(s) for s in account().cat.segments])


def _topic(topic: Any, consent_list: Any = None) -> dict[str, Any]:
    out = {"discriminator": topic.topic, "name": topic.name}
    if consent_list is not None:
        out["consent_list_discriminator"] = consent_list.discriminator
    return out


@bp.get("/audience/sections/<section_discriminator>/consent-lists")
def consent_lists(section_discriminator: str) -> Response:
    path = "/audience/sections/{section_discriminator}/consent-lists"
    acc, section = in_section(path, section_discriminator)
    return items([{"discriminator": cl.discriminator, "name": cl.name} for cl in acc.consent_lists(section)])


@bp.get("/audience/sections/<section_discriminator>/consent-lists/<consent_list_discriminator>/topics")
def consent_list_topics(section_discriminator: str, consent_list_discriminator: str) -> Response:
    path = "/audience/sections/{section_discriminator}/consent-lists/{consent_list_discriminator}/topics"
    checked("GET", path, section_discriminator=section_discriminator,
            consent_list_discriminator=consent_list_discriminator)
    acc = account()
    consent_list = acc.consent_list(acc.section(section_discriminator), consent_list_discriminator)
    return items([_topic(t) for t in consent_list.topics])


@bp.get("/v2/audience/sections/<section_discriminator>/topics")
def topics(section_discriminator: str) -> Response:
    """The newer listing of a section's topics across its consent lists (the official APSIS Magento and
    PrestaShop modules)."""
    acc, section = in_section("/v2/audience/sections/{section_discriminator}/topics", section_discriminator)
    return items([_topic(t, cl) for cl in acc.consent_lists(section) for t in cl.topics])


def _segment_json(seg: Any) -> dict[str, Any]:
    return {"discriminator": seg.discriminator, "name": seg.name, "versions": _versions((seg.version_id,))}


@bp.get("/audience/segments/<segment_discriminator>")
def segment(segment_discriminator: str) -> Response:
    checked("GET", "/audience/segments/{segment_discriminator}", segment_discriminator=segment_discriminator)
    return ok(_segment_json(account().segment_by_discriminator(segment_discriminator)))


@bp.get("/audience/segments/<segment_discriminator>/versions/<version_id>")
def segment_version(segment_discriminator: str, version_id: str) -> Response:
    values = checked("GET", "/audience/segments/{segment_discriminator}/versions/{version_id}",
                     segment_discriminator=segment_discriminator, version_id=version_id)
    seg = account().segment_by_discriminator(segment_discriminator)
    if values["version_id"] != seg.version_id:
        raise Problem(404, f"Segment {segment_discriminator!r} has no version {values['version_id']}.")
    return ok({"id": seg.version_id, "segment_discriminator": seg.discriminator, "name": seg.name,
               "deprecated_at": None})


@bp.get("/audience/keyspaces")
def keyspaces() -> Response:
    checked("GET", "/audience/keyspaces")
    return items(
        [{"discriminator": k, "name": k.rsplit(".", 1)[-1].upper()} for k in account().cat.keyspaces]
    )


@bp.get("/audience/channels")
def channels() -> Response:
    checked("GET", "/audience/channels")
    return items([{"discriminator": c, "name": c.rsplit(".", 1)[-1].upper()} for c in account().cat.channels])


@bp.get("/emails/sections/<section_discriminator>/activities")
def recent_activities(section_discriminator: str) -> Response:
    acc, section = in_section("/emails/sections/{section_discriminator}/activities", section_discriminator)
    return items([acc.activity_json(msg) for msg in acc.activities(section)])


# "Request email event export" spells this path with a singular "section"; the plural form is accepted too.
@bp.get("/emails/section/<section_discriminator>/activities/<activity_id>", endpoint="activity")
@bp.get("/emails/sections/<section_discriminator>/activities/<activity_id>", endpoint="activity_plural")
def activity(section_discriminator: str, activity_id: str) -> Response:
    values = checked(
        "GET",
        "/emails/section/{section_discriminator}/activities/{activity_id}",
        section_discriminator=section_discriminator,
        activity_id=activity_id,
    )
    acc = account()
    section = acc.section(section_discriminator)
    return ok(acc.activity_json(acc.activity(section, values["activity_id"]), links=True))
