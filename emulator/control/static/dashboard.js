// Dashboard of the email-events emulator: polls the JSON control API and re-renders. No build step.
// Every value from the server is written with textContent (no HTML parsing), so journal data cannot inject markup.
"use strict";

(function () {
  const body = document.body;
  const API = body.dataset.api || "/_emulator";
  const REFRESH_MS = Number(body.dataset.refreshMs) || 2000;
  const ROOT = body.dataset.root || "";  // the server's root path, without a session's prefix
  const SESSION = body.dataset.session || "default";
  // Beyond loopback the page is opened as .../ui?token=...; the same token goes to the API as a header.
  const TOKEN = new URLSearchParams(window.location.search).get("token");
  const $ = (id) => document.getElementById(id);
  let library = [];
  let busy = false;

  async function api(path, options = {}) {
    const headers = { Accept: "application/json" };
    if (TOKEN) headers["X-Emulator-Token"] = TOKEN;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
      credentials: "same-origin",
    });
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) {
      payload = null;
    }
    if (!response.ok) {
      let message = (payload && payload.error) || response.statusText || "request failed";
      if (response.status === 401 && !TOKEN) message += " Open this page with ?token=<EMULATOR_CONTROL_TOKEN>.";
      throw new Error(`${response.status}: ${message}`);
    }
    return payload;
  }

  function el(tag, text, attrs = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    return node;
  }

  function duration(seconds) {
    let s = Math.max(0, Math.round(Number(seconds) || 0));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function showError(message) {
    const node = $("error");
    node.textContent = message || "";
    node.hidden = !message;
  }

  function timeLeft(job) {
    if (job.state === "pending") {
      return job.seconds_to_ready > 0
        ? `ready in ${duration(job.seconds_to_ready)}`
        : `not ready (${job.outcome}); expires in ${duration(job.seconds_to_expiry)}`;
    }
    if (job.state === "expired") return "expired";
    return `expires in ${duration(job.seconds_to_expiry)}`;
  }

  function renderClock(clock) {
    $("clock-now").textContent = clock.now;
    const offset = Number(clock.offset_seconds) || 0;
    $("clock-offset").textContent = (offset < 0 ? "-" : "+") + duration(Math.abs(offset));
  }

  function renderScenario(state, scenarios) {
    $("scenario-active").textContent = (state.names || []).join(", ") || "(run-time rules only)";
    $("scenario-rules").textContent = String((state.rules || []).length);
    const select = $("scenario-select");
    const names = scenarios.map((s) => s.name);
    if (names.join("\n") !== library.map((s) => s.name).join("\n")) {
      const keep = select.value || (state.names || [])[0] || "";
      select.replaceChildren(...scenarios.map((s) => el("option", s.name, { value: s.name, title: s.description })));
      if (names.includes(keep)) select.value = keep;
    }
    library = scenarios;
    describeSelected();
  }

  function describeSelected() {
    // The rule count is shown once, beside the active scenario; the library entry shows its description.
    const chosen = library.find((s) => s.name === $("scenario-select").value);
    $("scenario-description").textContent = chosen ? chosen.description : "";
  }

  // Export kinds by the names the CLI (`generate VENDOR KIND`) and the docs use, not the store's.
  const KIND_NAMES = { "apsis/email_events": "email-events", "apsis/profile_events": "profile-events",
                       "netcore/logs": "download" };

  function kindName(job) {
    return KIND_NAMES[`${job.vendor}/${job.kind}`] || String(job.kind).replace(/_/g, "-");
  }

  function renderJobs(jobs) {
    const rows = jobs.items.map((job) => {
      const tr = el("tr", null, { "data-testid": "job-row", "data-job-id": job.id, "data-vendor": job.vendor,
                                  "data-state": job.state, class: `state-${job.state}` });
      tr.append(
        el("td", job.vendor, { "data-testid": "job-vendor" }),
        el("td", kindName(job), { "data-testid": "job-kind" }),
        el("td", job.id, { "data-testid": "job-id", class: "mono id" }),
        el("td", job.state, { "data-testid": "job-state", class: "state" }),
        el("td", timeLeft(job), { "data-testid": "job-time-left" }),
        el("td", job.created_at, { class: "mono time" }),
        el("td", job.ready_at, { class: "mono time" }),
        el("td", job.expires_at, { class: "mono time" }),
      );
      return tr;
    });
    $("jobs-body").replaceChildren(...rows);
    $("jobs-count").textContent = String(jobs.count);
    $("jobs-empty").hidden = rows.length > 0;
  }

  function sessionLink(name) {
    const path = name === "default" ? "/_emulator/ui" : `/sessions/${encodeURIComponent(name)}/_emulator/ui`;
    return ROOT + path + (TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : "");
  }

  function renderSessions(list) {
    const rows = list.items.map((session) => {
      const tr = el("tr", null, { "data-testid": "session-row", "data-session": session.name });
      const name = el("td", null, { class: "mono" });
      if (session.name === SESSION) {
        name.append(el("strong", session.name));
      } else {
        name.append(el("a", session.name, { href: sessionLink(session.name), "data-testid": "session-link" }));
      }
      tr.append(
        name,
        el("td", session.now, { class: "mono time" }),
        el("td", (session.scenario || []).join(", ")),
        el("td", session.jobs),
        el("td", session.last_used || "", { class: "mono time" }),
      );
      return tr;
    });
    $("sessions-body").replaceChildren(...rows);
    $("sessions-count").textContent = String(list.count);
  }

  function journalQuery() {
    const params = new URLSearchParams({ limit: "200" });
    const vendor = $("journal-vendor").value;
    if (vendor) params.set("vendor", vendor);
    const status = $("journal-status").value.trim();
    const valid = /^[1-5][0-9][0-9]$/.test(status);  // the contract: an integer 100..599
    $("journal-status").classList.toggle("invalid", status !== "" && !valid);
    if (valid) params.set("status", status);
    return params.toString();
  }

  function renderJournal(journal) {
    const rows = journal.items.slice().reverse().map((entry) => {
      const tr = el("tr", null, { "data-testid": "journal-row", "data-vendor": entry.vendor,
                                  "data-status": entry.status });
      const path = entry.query ? `${entry.path}?${entry.query}` : entry.path;
      tr.append(
        el("td", entry.at, { class: "mono time" }),
        el("td", entry.vendor, { "data-testid": "journal-vendor-cell" }),
        el("td", entry.method, { "data-testid": "journal-method" }),
        el("td", path, { "data-testid": "journal-path", class: "mono path" }),
        el("td", entry.status, { "data-testid": "journal-status-cell", class: `status-${String(entry.status)[0]}xx` }),
        el("td", entry.fault || "", { "data-testid": "journal-fault", class: "fault" }),
      );
      return tr;
    });
    $("journal-body").replaceChildren(...rows);
    $("journal-count").textContent = String(journal.count);
    $("journal-empty").hidden = rows.length > 0;
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const [clock, scenario, scenarios, jobs, journal, sessions] = await Promise.all([
        api("/clock"), api("/scenario"), api("/scenarios"), api("/jobs"), api("/journal?" + journalQuery()),
        api("/sessions"),
      ]);
      renderSessions(sessions);
      renderClock(clock);
      renderScenario(scenario, scenarios.items);
      renderJobs(jobs);
      renderJournal(journal);
      // UTC like every other time on the page; real time, as the virtual clock is shown on its own.
      $("updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC (real time)`;
      body.dataset.loaded = "true";
      showError("");
    } catch (error) {
      showError(`Could not load the control API: ${error.message}`);
    } finally {
      busy = false;
    }
  }

  async function act(call, messageId) {
    const message = messageId ? $(messageId) : null;
    try {
      await call();
      if (message) message.hidden = true;
    } catch (error) {
      if (message) {
        message.textContent = error.message;
        message.hidden = false;
      } else {
        showError(error.message);
      }
    }
    while (busy) await new Promise((resolve) => setTimeout(resolve, 20));
    await refresh();
  }

  function wire() {
    for (const button of document.querySelectorAll("button[data-advance]")) {
      button.addEventListener("click", () =>
        act(() => api("/clock", { method: "POST", body: { advance: Number(button.dataset.advance) } })));
    }
    $("scenario-apply").addEventListener("click", () => {
      const name = $("scenario-select").value;
      if (name) act(() => api("/scenario", { method: "PUT", body: { name } }), "scenario-message");
    });
    $("scenario-reset").addEventListener("click", () =>
      act(() => api("/scenario", { method: "DELETE" }), "scenario-message"));
    $("scenario-select").addEventListener("change", describeSelected);
    $("journal-vendor").addEventListener("change", () => act(async () => {}));
    $("journal-status").addEventListener("input", () => act(async () => {}));
    $("journal-filters").addEventListener("submit", (event) => event.preventDefault());
    $("refresh-now").addEventListener("click", () => act(async () => {}));
    setInterval(() => {
      if ($("auto-refresh").checked && !document.hidden) refresh();
    }, REFRESH_MS);
    refresh();
  }

  wire();
})();
