"""The dashboard in a real browser: headless Debian chromium driven by Selenium through /usr/bin/chromedriver,
against the real server (gunicorn). Skipped, with the reason, when the browser or its driver is missing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from emulator.settings import DEFAULT_NETCORE_API_KEY

from .server import get_json, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"{CHROMIUM} is missing (apt-get install -y chromium chromium-driver)"),
    pytest.mark.skipif(not os.access(CHROMEDRIVER, os.X_OK),
                       reason=f"{CHROMEDRIVER} is missing (apt-get install -y chromium-driver)"),
]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
WAIT = 20  # seconds; the page polls every 2 s and re-renders at once after a click


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    # Exports take 5 virtual minutes: pending long enough to be seen, ready after a few "+1 min" clicks.
    with running_server(tmp_path_factory.mktemp("dashboard-state"), env={"EMULATOR_EXPORT_DELAY": "300"}) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def js(driver, script: str, *args):
    """Read the page in one step (rows are re-rendered every 2 s, so element handles go stale)."""
    return driver.execute_script(script, *args)


def wait_until(driver, condition, message: str):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        error = js(driver, "return document.getElementById('error').textContent")
        raise AssertionError(f"{message} (page error: {error!r})") from None


def text_of(driver, element_id: str) -> str:
    return js(driver, "return document.getElementById(arguments[0]).textContent", element_id)


def job_state(driver, job_id: str) -> str | None:
    return js(driver, "const r = document.querySelector(`tr[data-job-id='${arguments[0]}']`);"
                      "return r ? r.dataset.state : null", job_id)


def journal_rows(driver) -> list[dict]:
    return js(driver, "return [...document.querySelectorAll('#journal-body tr')].map(r => ({vendor: r.dataset.vendor,"
                      " status: Number(r.dataset.status), path: r.querySelector('[data-testid=journal-path]')"
                      ".textContent}))")


def click(driver, element_id: str) -> None:
    driver.find_element(By.ID, element_id).click()


@pytest.fixture
def page(server, browser):
    browser.get(server + "/_emulator/ui")
    wait_until(browser, lambda d: js(d, "return document.body.dataset.loaded === 'true'"), "the page never loaded")
    return browser


def test_page_loads_with_every_section(page):
    for testid in ("connect-section", "jobs-section", "scenario-section", "clock-section", "journal-section"):
        assert page.find_element(By.CSS_SELECTOR, f"[data-testid='{testid}']").is_displayed()
    assert text_of(page, "clock-now").startswith("20")
    assert text_of(page, "scenario-active") == "default"
    assert not page.find_element(By.ID, "error").is_displayed()


def test_switch_the_scenario_and_reset_it(page, server):
    wait_until(page, lambda d: js(d, "return document.getElementById('scenario-select').options.length > 1"),
               "the scenario library never loaded")
    Select(page.find_element(By.ID, "scenario-select")).select_by_value("slow-exports")
    click(page, "scenario-apply")
    wait_until(page, lambda d: text_of(d, "scenario-active") == "slow-exports", "the new scenario is not shown")
    assert get_json(server + "/_emulator/scenario")["names"] == ["slow-exports"]
    assert int(text_of(page, "scenario-rules")) >= 1
    click(page, "scenario-reset")
    wait_until(page, lambda d: text_of(d, "scenario-active") == "default", "reset is not shown")
    assert get_json(server + "/_emulator/scenario")["names"] == ["default"]


def _request_netcore_download(server: str) -> str:
    import requests

    now = datetime.fromtimestamp(get_json(server + "/_emulator/clock")["epoch_ms"] / 1000, UTC)
    day = (now - timedelta(days=2)).date().isoformat()  # within Netcore's last 90 days of the virtual clock
    response = requests.post(server + "/netcore/v6/logs/download", json={"start_date": day, "end_date": day},
                             headers={"Authorization": f"Bearer {DEFAULT_NETCORE_API_KEY}"}, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["data"]["request_id"]


def test_export_job_goes_from_pending_to_ready_with_the_clock_buttons(page, server):
    job_id = _request_netcore_download(server)
    wait_until(page, lambda d: job_state(d, job_id) == "pending", "the new job is not shown as pending")
    assert js(page, "return document.querySelector(`tr[data-job-id='${arguments[0]}'] [data-testid=job-time-left]`)"
                    ".textContent", job_id).startswith("ready in ")
    clock_before = text_of(page, "clock-now")
    for button in ("clock-advance-60",) * 10 + ("clock-advance-3600",) * 3:
        if job_state(page, job_id) == "ready":
            break
        shown = text_of(page, "clock-now")
        click(page, button)
        wait_until(page, lambda d, shown=shown: text_of(d, "clock-now") != shown, "the clock did not move")
    wait_until(page, lambda d: job_state(d, job_id) == "ready", "the job never showed ready")
    assert text_of(page, "clock-now") != clock_before
    left = js(page, "return document.querySelector(`tr[data-job-id='${arguments[0]}'] [data-testid=job-time-left]`)"
                    ".textContent", job_id)
    assert left.startswith("expires in ")
    jobs = get_json(server + "/_emulator/jobs?vendor=netcore")["items"]
    assert {j["id"]: j["state"] for j in jobs}[job_id] == "ready"


def test_journal_shows_vendor_requests_and_filters_by_vendor_and_status(page, server):
    import requests

    _request_netcore_download(server)
    markup = "<img src=x id=injected onerror=alert(1)>"
    requests.get(server + "/apsis/" + requests.utils.quote(markup), timeout=30)  # a 4xx, with markup in its path
    wait_until(page, lambda d: {"netcore", "apsis"} <= {r["vendor"] for r in journal_rows(d)},
               "the journal does not show both vendors")
    rows = journal_rows(page)
    assert any(r["vendor"] == "netcore" and r["path"].endswith("/v6/logs/download") and r["status"] == 202
               for r in rows)
    assert any(markup in r["path"] for r in rows)  # shown as text ...
    assert page.find_elements(By.ID, "injected") == []  # ... never parsed into an element

    Select(page.find_element(By.ID, "journal-vendor")).select_by_value("netcore")
    wait_until(page, lambda d: (rows := journal_rows(d)) and {r["vendor"] for r in rows} == {"netcore"},
               "the vendor filter did not narrow the journal to netcore")
    page.find_element(By.ID, "journal-status").send_keys("202")
    wait_until(page, lambda d: (rows := journal_rows(d)) and {(r["vendor"], r["status"]) for r in rows}
               == {("netcore", 202)}, "the status filter did not narrow the journal to 202")
    page.find_element(By.ID, "journal-status").clear()
    Select(page.find_element(By.ID, "journal-vendor")).select_by_value("apsis")
    wait_until(page, lambda d: (rows := journal_rows(d)) and {r["vendor"] for r in rows} == {"apsis"},
               "the vendor filter did not switch to apsis")
    Select(page.find_element(By.ID, "journal-vendor")).select_by_value("")
    wait_until(page, lambda d: {"netcore", "apsis"} <= {r["vendor"] for r in journal_rows(d)},
               "clearing the filter did not bring every vendor back")


def test_at_760_px_ids_stay_on_one_line_and_the_panels_say_what_a_user_needs(page, server):
    """A narrow window (760 px) once broke a job id one character a line; the Netcore job is named as the CLI
    names it ("download"); the connect panel gives the base URLs; the scenario's rule count shows once."""
    job_id = _request_netcore_download(server)
    page.set_window_size(760, 1000)
    try:
        wait_until(page, lambda d: job_state(d, job_id) is not None, "the job is not shown")
        # The line boxes of the id's text: one per line it runs over.
        lines = js(page, "const c = document.querySelector(`tr[data-job-id='${arguments[0]}'] "
                         "[data-testid=job-id]`); const r = document.createRange(); r.selectNodeContents(c);"
                         "return r.getClientRects().length", job_id)
        assert lines == 1, f"the id runs over {lines} lines"
        kind = js(page, "return document.querySelector(`tr[data-job-id='${arguments[0]}'] "
                        "[data-testid=job-kind]`).textContent", job_id)
        assert kind == "download"
        connect = js(page, "return document.querySelector('[data-testid=connect-section]').textContent")
        assert f"{server}/netcore" in connect and DEFAULT_NETCORE_API_KEY in connect
        assert js(page, "return document.body.textContent.split(' rules)').length - 1") == 1
    finally:
        page.set_window_size(1400, 1000)


def test_hour_and_day_buttons_move_the_clock_and_jobs_expire(page, server):
    job_id = _request_netcore_download(server)
    wait_until(page, lambda d: job_state(d, job_id) == "pending", "the new job is not shown as pending")
    before = get_json(server + "/_emulator/clock")["offset_seconds"]
    click(page, "clock-advance-3600")
    wait_until(page, lambda d: get_json(server + "/_emulator/clock")["offset_seconds"] >= before + 3600,
               "+1 h did not move the clock")
    click(page, "clock-advance-86400")
    wait_until(page, lambda d: get_json(server + "/_emulator/clock")["offset_seconds"] >= before + 90_000,
               "+1 day did not move the clock")
    wait_until(page, lambda d: "d" in text_of(d, "clock-offset"), "the offset is not shown in days")
    wait_until(page, lambda d: job_state(d, job_id) == "expired", "the job never showed expired")
    assert js(page, "return document.querySelector(`tr[data-job-id='${arguments[0]}'] [data-testid=job-time-left]`)"
                    ".textContent", job_id) == "expired"


def test_beyond_loopback_the_page_works_with_a_token_in_its_url(tmp_path, browser):
    token = "dashboard-s3cret"
    with running_server(tmp_path / "state", "--host", "0.0.0.0", env={"EMULATOR_CONTROL_TOKEN": token}) as base:
        browser.get(base + "/_emulator/ui")  # no token: the guard answers the page itself with 401
        assert "A valid control token is required" in browser.page_source
        browser.get(base + "/_emulator/ui?token=" + token)
        wait_until(browser, lambda d: js(d, "return document.body.dataset.loaded === 'true'"),
                   "the page did not load its data with the token")
        assert text_of(browser, "scenario-active") == "default"
        click(browser, "clock-advance-3600")  # the script sends the token on as X-Emulator-Token
        wait_until(browser, lambda d: get_json(base + "/_emulator/clock", {"X-Emulator-Token": token})
                   ["offset_seconds"] >= 3600, "+1 h with the token did not move the clock")
