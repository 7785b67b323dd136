"""The dashboard at /_emulator/ui: one HTML page and two assets, behind the control API's access rule."""

from __future__ import annotations

import pytest

from emulator.app import create_app
from emulator.settings import (
    DEFAULT_APSIS_CLIENT_ID,
    DEFAULT_APSIS_CLIENT_SECRET,
    DEFAULT_EXPERTSENDER_API_KEY,
    DEFAULT_NETCORE_API_KEY,
    Settings,
)

SECTIONS = ('data-testid="jobs-section"', 'data-testid="scenario-section"', 'data-testid="clock-section"',
            'data-testid="journal-section"')
CONTROLS = ('id="scenario-select"', 'id="scenario-apply"', 'id="scenario-reset"', 'id="clock-advance-60"',
            'id="clock-advance-3600"', 'id="clock-advance-86400"', 'id="journal-vendor"', 'id="journal-status"')


def test_page_is_html_with_every_section_and_control(client):
    response = client.get("/_emulator/ui")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for marker in SECTIONS + CONTROLS:
        assert marker in page
    assert 'src="/_emulator/ui/dashboard.js"' in page and 'href="/_emulator/ui/dashboard.css"' in page
    assert 'data-api="/_emulator"' in page and "{{" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "mimetype"), [("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")])
def test_assets_are_served_from_the_package(client, name, mimetype):
    response = client.get(f"/_emulator/ui/{name}")
    assert response.status_code == 200 and response.mimetype == mimetype
    assert len(response.get_data()) > 500


def test_script_renders_values_as_text_never_as_markup(client):
    script = client.get("/_emulator/ui/dashboard.js").get_data(as_text=True)
    assert "textContent" in script
    assert "innerHTML" not in script and "outerHTML" not in script and "insertAdjacentHTML" not in script
    assert "X-Emulator-Token" in script


@pytest.mark.parametrize("path", ["/_emulator/ui/nope.js", "/_emulator/ui/dashboard.html", "/_emulator/ui/a/b",
                                  "/_emulator/uix", "/_emulator/nothing"])
def test_unknown_paths_keep_the_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.content_type == "application/json"
    assert response.get_json()["status"] == 404


def test_page_accepts_only_get(client):
    response = client.post("/_emulator/ui")
    assert response.status_code == 405 and response.content_type == "application/json"


@pytest.fixture
def remote(tmp_path):
    """The app as when it listens beyond loopback, with a control token that needs escaping."""
    return create_app(Settings(state_dir=str(tmp_path), host="0.0.0.0", control_token='s3"<cret&')).test_client()


@pytest.mark.parametrize("path", ["/_emulator/ui", "/_emulator/ui/dashboard.js", "/_emulator/ui/dashboard.css"])
def test_beyond_loopback_the_page_and_assets_need_the_token(remote, path):
    assert remote.get(path).status_code == 401
    assert remote.get(path, query_string={"token": "wrong"}).status_code == 401
    assert remote.get(path, headers={"X-Emulator-Token": "wrong"}).status_code == 401
    assert remote.get(path, query_string={"token": 's3"<cret&'}).status_code == 200
    assert remote.get(path, headers={"X-Emulator-Token": 's3"<cret&'}).status_code == 200
    assert remote.get(path, headers={"Authorization": 'Bearer s3"<cret&'}).status_code == 200


def test_beyond_loopback_the_page_passes_the_token_to_its_assets_escaped(remote):
    page = remote.get("/_emulator/ui", query_string={"token": 's3"<cret&'}).get_data(as_text=True)
    assert 'src="/_emulator/ui/dashboard.js?token=s3%22%3Ccret%26"' in page
    assert 'href="/_emulator/ui/dashboard.css?token=s3%22%3Ccret%26"' in page
    assert 's3"<cret' not in page


def test_query_token_is_only_for_the_dashboard_not_the_json_api(remote):
    assert remote.get("/_emulator/clock", query_string={"token": 's3"<cret&'}).status_code == 401
    assert remote.get("/_emulator/health").status_code == 200


def test_beyond_loopback_without_a_configured_token_the_page_is_disabled(tmp_path):
    client = create_app(Settings(state_dir=str(tmp_path), host="0.0.0.0")).test_client()
    response = client.get("/_emulator/ui", query_string={"token": "anything"})
    assert response.status_code == 403 and "EMULATOR_CONTROL_TOKEN" in response.get_json()["error"]


def test_connect_panel_gives_the_base_urls_and_credentials_a_client_needs(client):
    """The dashboard tells what to point a client at: each vendor's base URL as the browser reached the
    server, and the credentials the server accepts (the defaults of emulator/settings.py here)."""
    page = client.get("/_emulator/ui", base_url="http://127.0.0.1:18080").get_data(as_text=True)
    panel = page.split('data-testid="connect-section"', 1)[1].split("</section>", 1)[0]
    for text in ("http://127.0.0.1:18080/apsis", "http://127.0.0.1:18080/expertsender",
                 "http://127.0.0.1:18080/netcore", "http://127.0.0.1:18080/_emulator/",
                 DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET,
                 f"apiKey={DEFAULT_EXPERTSENDER_API_KEY}",
                 f"api_key: {DEFAULT_NETCORE_API_KEY}", f"Authorization: Bearer {DEFAULT_NETCORE_API_KEY}",
                 "none (the server listens on loopback only)"):
        assert text in panel, text


def test_connect_panel_escapes_settings_and_names_the_token_beyond_loopback(tmp_path):
    settings = Settings(state_dir=str(tmp_path), host="0.0.0.0", control_token="t", vendor_ports=True,
                        port=9000, expertsender_api_key="<b>&key")
    page = create_app(settings).test_client().get(
        "/_emulator/ui?token=t", base_url="http://emulator.test:9000").get_data(as_text=True)
    assert "apiKey=&lt;b&gt;&amp;key" in page and "<b>&key" not in page
    assert "header X-Emulator-Token" in page
    assert "netcore http://emulator.test:9003" in page  # --vendor-ports: the vendor's own port


def test_the_page_shows_every_time_in_utc_and_counts_rules_once(client):
    """Times on the page are UTC (virtual, or the real time of the last refresh, labelled so): never the
    browser's local time beside the virtual UTC clock. The active scenario's rule count appears once."""
    page = client.get("/_emulator/ui").get_data(as_text=True)
    script = client.get("/_emulator/ui/dashboard.js").get_data(as_text=True)
    assert "toLocaleTimeString" not in script and "toLocaleString" not in script
    assert "UTC (real time)" in script and "Now (UTC, virtual)" in page
    assert page.count(" rules)") == 1 and "rules)" not in script


def test_jobs_carry_the_cli_kind_names(client):
    """The Netcore job is a "download" (`generate netcore download`, POST /v6/logs/download), not "logs"."""
    script = client.get("/_emulator/ui/dashboard.js").get_data(as_text=True)
    assert '"netcore/logs": "download"' in script


def test_ids_and_times_do_not_break_per_character(client):
    """At 760 px a job id broke one character a line (`word-break: break-all` on every cell)."""
    css = client.get("/_emulator/ui/dashboard.css").get_data(as_text=True)
    assert "break-all" not in css
    assert "td.id, td.time" in css and "white-space: nowrap" in css
