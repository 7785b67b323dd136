"""Lookups an export client needs to map ids: sections, attributes, tags, events, segments, keyspaces,
channels and email activities. Lists are {"items": [...]} (notes, section 4)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app

from ..account import EVENT_FIELDS, Account
from ..checks import checked

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
    return items(
        [
            {"discriminator": s.discriminator, "name": s.name, "versions": _versions((s.version_id,))}
            for s in account().cat.segments
        ]
    )


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


# Seed 1 spells this path with a singular "section"; the plural form is accepted too.
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
