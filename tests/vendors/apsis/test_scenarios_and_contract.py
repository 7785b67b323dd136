"""Shipped scenarios as APSIS clients meet them, and the contract matching the registered routes."""

from __future__ import annotations

import re

from emulator.contracts import contract

from .conftest import iso, local
from .test_email_export import END, START, request_report

EMAIL_BODY = {"start_at": iso(START), "end_at": iso(END)}
PROFILE_BODY = {"attributes": ["com.apsis1.attributes.email"]}


def test_every_contract_operation_is_a_route_and_every_route_is_in_the_contract(app):
    """One source of truth: documented paths equal registered routes (as stripe-mock checks)."""
    vendor_app = app.extensions["emulator.vendors"]["apsis"]
    routes = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in vendor_app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = set(contract("apsis-one.openapi.yaml").operations)
    assert routes == documented


def test_expired_poll_urls_scenario_gives_410(apsis):
    """Scenario expired-poll-urls: exports expire a virtual minute after ready (status and poll 410)."""
    apsis.core.faults.activate(["expired-poll-urls"])
    report_id = request_report(apsis, EMAIL_BODY)
    url = apsis.post("/audience/profiles/exports", PROFILE_BODY).json["file_download_url"]
    apsis.core.clock.advance(120)
    assert apsis.get(f"/emails/reports/{report_id}").status_code == 410
    assert apsis.client.get(local(url), headers=apsis.headers).status_code == 410


def test_slow_exports_scenario_keeps_exports_pending_for_15_minutes(apsis):
    apsis.core.faults.activate(["slow-exports"])
    report_id = request_report(apsis, EMAIL_BODY)
    url = apsis.post("/audience/profiles/exports", PROFILE_BODY).json["file_download_url"]
    apsis.core.clock.advance(600)
    assert apsis.get(f"/emails/reports/{report_id}").json["status"] == "pending"
    assert apsis.client.get(local(url), headers=apsis.headers).status_code == 404
    apsis.core.clock.advance(400)
    assert apsis.get(f"/emails/reports/{report_id}").json["status"] == "completed"
    assert apsis.client.get(local(url), headers=apsis.headers).status_code == 200


def test_oversized_request_scenario_gives_413_on_email_export(apsis):
    apsis.core.faults.activate(["oversized-request"])
    r = apsis.post("/emails/reports", EMAIL_BODY)
    assert r.status_code == 413 and r.content_type == "application/problem+json"


def test_rate_limited_scenario_allows_60_downloads_per_minute(apsis):
    """DEV-LIMITS: "Export downloads" 60 per minute."""
    report_id = request_report(apsis, {"start_at": iso(START), "end_at": "2026-03-06T00:10:00Z"})
    status = apsis.wait_for_report(report_id)
    apsis.core.faults.activate(["rate-limited"])
    codes = [apsis.client.get(local(status["file_download_url"])).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60 and codes[60] == 429


def test_vendor_port_mount_gives_root_relative_urls(tmp_path):
    """With --vendor-ports the app answers at the root, and handed-out URLs follow the mount."""
    from emulator.app import create_app
    from emulator.settings import Settings

    from .conftest import CREDENTIALS

    app = create_app(Settings(state_dir=str(tmp_path / "s"), vendor_ports=True))
    port = app.config["EMULATOR_CORE"].settings.vendor_port("apsis")
    client = app.test_client()
    base = f"http://127.0.0.1:{port}"
    token = client.post(f"{base}/oauth/token", json=CREDENTIALS).json["access_token"]
    r = client.post(
        f"{base}/audience/profiles/exports", json=PROFILE_BODY, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 202
    assert r.json["file_download_url"].startswith(f"{base}/audience/profiles/exports/")
