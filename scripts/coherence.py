"""Is the world coherent over time? Counted through each vendor's own endpoints (issue 22).

    .venv/bin/python scripts/coherence.py [--seed 42] [--start 2026-11-01] [--days 20] [--scale 1]

Run from the root of the tree to measure (it imports `emulator` from the working directory, so the same
script measures an older tree: `cd ../main && python ../i22/scripts/coherence.py`). In-process app, virtual
clock three days after the window; prints one line per figure.

Netcore (Download Logs, one file for the window): addresses suppressed (hardbounce, invalid, spam,
unsubscribe) and the `sent` rows of messages requested after that; addresses dropped and then delivered;
opens and clicks of messages requested after a hard bounce; opens and clicks before their message's
delivery (same message_id, which is one message to one address).
ExpertSender (Activities, a day at a time, Extended columns): Sends after a Removal from the same list;
MessageStatistics Unsubscribes against the Removals of each reason; the seconds a year of MessageStatistics
takes.
APSIS (email event export of the window, profile export with the email attribute and events): addresses
delivered after a 2001/2002/2004 bounce; opens and clicks before their delivery; addresses of a one-section
email export whose profile has no such section; profile-export events under a section other than their
activity's.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

sys.path.insert(0, os.getcwd())

from emulator.app import create_app
from emulator.settings import DEFAULT_APSIS_CLIENT_ID, DEFAULT_APSIS_CLIENT_SECRET, Settings

ENGAGED = ("open", "click")


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def netcore(client, core, start: date, days: int) -> dict:
    headers = {"Authorization": f"Bearer {core.settings.netcore_api_key}"}
    last = start + timedelta(days=days - 1)
    created = client.post("/netcore/v6/logs/download", json={"start_date": start.isoformat(),
                                                              "end_date": last.isoformat()}, headers=headers)
    assert created.status_code == 202, created.get_json()
    for _ in range(30):
        core.clock.advance(120)
        status = client.get(local(created.get_json()["data"]["status_url"]), headers=headers).get_json()["data"]
        if status["state"] == "ready":
            break
    rows = list(csv.DictReader(io.StringIO(client.get(local(status["download_url"])).get_data(as_text=True))))
    rows.sort(key=lambda r: r["modifiedTime"])  # stable: a file's order within a second is kept
    suppressed, dropped, hard = {}, {}, {}
    delivered_at: dict[str, str] = {}
    later_sent, later_sent_to, dropped_then_sent, engaged_after_hard, early = Counter(), set(), set(), 0, 0
    for r in rows:
        email, status, when, requested = r["rcptEmail"], r["status"], r["modifiedTime"], r["requestedTime"]
        if status == "sent":
            delivered_at.setdefault(r["message_id"], when)
            if email in suppressed and requested > suppressed[email]:
                later_sent[email] += 1
                later_sent_to.add(email)
            if email in dropped and requested > dropped[email]:
                dropped_then_sent.add(email)
        if status in ENGAGED:
            if email in hard and requested > hard[email]:
                engaged_after_hard += 1
            first = delivered_at.get(r["message_id"])
            if (first is None and requested >= f"{start} 00:00:00") or (first is not None and first > when):
                early += 1
        if status in ("hardbounce", "invalid", "spam", "unsubscribe"):
            suppressed.setdefault(email, when)
        if status in ("hardbounce", "invalid"):
            hard.setdefault(email, when)
        if status == "dropped":
            dropped.setdefault(email, when)
    return {
        "netcore rows": len(rows),
        "netcore statuses": dict(Counter(r["status"] for r in rows)),
        "netcore suppressed addresses (hardbounce, invalid, spam, unsubscribe)": len(suppressed),
        "netcore suppressed addresses delivered a message requested later": len(later_sent_to),
        "netcore deliveries to suppressed addresses of messages requested later": sum(later_sent.values()),
        "netcore addresses dropped, then delivered a message requested later": len(dropped_then_sent),
        "netcore opens and clicks of messages requested after a hard bounce or invalid": engaged_after_hard,
        "netcore opens and clicks before their message's delivery": early,
    }


def expertsender(client, core, start: date, days: int) -> dict:
    key = core.settings.expertsender_api_key

    def activities(day: date, activity: str) -> list[dict]:
        r = client.get("/expertsender/v2/Api/Activities", query_string={
            "apiKey": key, "date": day.isoformat(), "type": activity, "columns": "Extended"})
        assert r.status_code == 200, r.data[:300]
        return list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))

    removed: dict[tuple[str, str], str] = {}
    late_sends, late_pairs, reasons = 0, set(), Counter()
    by_message: dict[str, Counter] = defaultdict(Counter)
    for k in range(days):
        day = start + timedelta(days=k)
        events = [("Sends", r) for r in activities(day, "Sends")] + \
                 [("Removals", r) for r in activities(day, "Removals")]
        events.sort(key=lambda pair: pair[1]["Date"])
        for kind, r in events:
            pair = (r["Email"] or r["Phone"], r["ListId"])
            if kind == "Sends" and pair in removed and r["Date"] > removed[pair]:
                late_sends += 1
                late_pairs.add(pair)
            if kind == "Removals":
                reasons[r["Reason"]] += 1
                removed.setdefault(pair, r["Date"])
                if r["MessageId"]:
                    by_message[r["MessageId"]][r["Reason"]] += 1
    wrong = 0
    checked = 0
    for mid, counts in list(by_message.items())[:40]:
        r = client.get(f"/expertsender/v2/Api/MessageStatistics/{mid}", query_string={"apiKey": key})
        if r.status_code != 200:
            continue
        text = r.data.decode()
        unsubscribes = int(text.split("<Unsubscribes>")[1].split("<")[0])
        checked += 1
        wrong += unsubscribes != counts["Subscriber"]
    earlier = start - timedelta(days=60)  # a message of days nothing read yet: the cost of a cold request
    listed = client.get("/expertsender/v2/Api/Messages", query_string={
        "apiKey": key, "startDate": earlier.isoformat(), "endDate": earlier.isoformat()}).data.decode()
    mid = listed.split("<Id>")[1].split("<")[0]
    t0 = time.perf_counter()
    status = client.get(f"/expertsender/v2/Api/MessageStatistics/{mid}", query_string={
        "apiKey": key, "startDate": f"{start.year}-01-01", "endDate": f"{start.year}-12-31"}).status_code
    seconds = time.perf_counter() - t0
    return {
        "expertsender removals by reason": dict(reasons),
        "expertsender (address, list) pairs removed": len(removed),
        "expertsender (address, list) pairs sent to after their removal": len(late_pairs),
        "expertsender sends after a removal from the list": late_sends,
        "expertsender messages with removals checked": checked,
        "expertsender MessageStatistics Unsubscribes other than the Subscriber removals": wrong,
        "expertsender MessageStatistics over a year, seconds": round(seconds, 2),
        "expertsender MessageStatistics over a year, status": status,
    }


def apsis(client, core, start: date, days: int) -> dict:
    token = client.post("/apsis/oauth/token", json={"grant_type": "client_credentials",
                                                    "client_id": DEFAULT_APSIS_CLIENT_ID,
                                                    "client_secret": DEFAULT_APSIS_CLIENT_SECRET}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    begin, end = f"{start.isoformat()}T00:00:00Z", f"{(start + timedelta(days=days)).isoformat()}T00:00:00Z"

    def email_rows(body: dict) -> list[dict]:
        report = client.post("/apsis/emails/reports", json=body, headers=headers)
        assert report.status_code == 202, report.data
        for _ in range(30):
            core.clock.advance(60)
            status = client.get(f"/apsis/emails/reports/{report.json['report_id']}", headers=headers).json
            if status["status"] != "pending":
                break
        data = gzip.decompress(client.get(local(status["file_download_url"])).data).decode("utf-8")
        return list(csv.DictReader(io.StringIO(data)))

    rows = email_rows({"start_at": begin, "end_at": end})
    rows.sort(key=lambda r: r["server_time"])
    dead: dict[str, str] = {}
    delivered: dict[tuple[str, str], str] = {}
    late, late_to, early = 0, set(), 0
    activities_in_window = set()
    for r in rows:
        key = (r["activity_id"], r["address"])
        if r["type"] == "SENT":
            activities_in_window.add(r["activity_id"])
        if r["type"] == "DELIVERED":
            delivered.setdefault(key, r["server_time"])
            if r["address"] in dead and r["server_time"] > dead[r["address"]]:
                late += 1
                late_to.add(r["address"])
        if r["type"] in ("OPENED", "CLICKED"):
            first = delivered.get(key)
            if (first is None and r["activity_id"] in activities_in_window) or (first and first > r["server_time"]):
                early += 1
        if r["type"] == "BOUNCED" and r["bounce_code"] in ("2001", "2002", "2004"):
            dead.setdefault(r["address"], r["server_time"])
    sections = client.get("/apsis/audience/sections", headers=headers).json["items"]
    first = sections[0]["discriminator"]
    types = [e["discriminator"] for e in client.get(f"/apsis/audience/sections/{first}/events",
                                                    headers=headers).json["items"]]
    created = client.post("/apsis/audience/profiles/exports", json={
        "attributes": ["com.apsis1.attributes.email"], "events": types, "start_at": begin, "end_at": end},
        headers=headers)
    assert created.status_code == 202, created.data
    for _ in range(30):
        core.clock.advance(60)
        got = client.get(local(created.json["file_download_url"]), headers=headers)
        if got.status_code != 404:
            break
    profiles = json.loads(got.data)
    email_version = next(str(a["versions"][-1]["id"]) for a in client.get(
        f"/apsis/audience/sections/{first}/attributes", headers=headers).json["items"]
        if a["discriminator"] == "com.apsis1.attributes.email")
    sections_of: dict[str, set[str]] = defaultdict(set)
    events_by_section = []
    for profile in profiles.values():
        for section_id, sec in profile["sections"].items():
            address = sec["attributes"].get(email_version, {}).get("value")
            sections_of[address].add(section_id)
            events_by_section.extend((section_id, e["data"]["activity_id"]) for e in sec.get("events", []))
    outside, listed, section_of_activity = 0, 0, {}
    for section in sections[:3]:
        one = email_rows({"start_at": begin, "end_at": end, "sections": [section["discriminator"]]})
        addresses = {r["address"] for r in one}
        listed += len(addresses)
        outside += sum(1 for a in addresses if section["id"] not in sections_of.get(a, ()))
        section_of_activity.update({int(r["activity_id"]): section["id"] for r in one})
    misplaced = sum(1 for section_id, activity in events_by_section
                    if activity in section_of_activity and section_of_activity[activity] != section_id)
    return {
        "apsis rows": len(rows),
        "apsis addresses bounced 2001/2002/2004": len(dead),
        "apsis addresses delivered after their 2001/2002/2004 bounce": len(late_to),
        "apsis deliveries after a 2001/2002/2004 bounce": late,
        "apsis opens and clicks before their delivery": early,
        "apsis addresses of one-section email exports": listed,
        "apsis addresses of a one-section email export whose profile is not in that section": outside,
        "apsis profile-export events": len(events_by_section),
        "apsis profile-export events under a section other than their activity's": misplaced,
    }


def measure(seed: int, scale: float, start: date, days: int, only: str | None = None) -> dict:
    """Every figure, from a fresh in-process app whose virtual clock stands three days after the window."""
    with tempfile.TemporaryDirectory() as state:
        app = create_app(Settings(state_dir=state, seed=seed, scale=scale))
        core = app.config["EMULATOR_CORE"]
        now = datetime.combine(start + timedelta(days=days + 3), datetime.min.time(), UTC)
        core.clock._real_time = now.timestamp  # the virtual clock moves only when the script advances it
        core.clock.reset()
        client = app.test_client()
        figures: dict = {}
        for name, vendor in (("netcore", netcore), ("expertsender", expertsender), ("apsis", apsis)):
            if only in (None, name):
                figures.update(vendor(client, core, start, days))
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--only", choices=("netcore", "expertsender", "apsis"))
    args = parser.parse_args()
    print(f"seed {args.seed}, scale {args.scale}, {args.start} + {args.days} days, tree {os.getcwd()}")
    for name, value in measure(args.seed, args.scale, args.start, args.days, args.only).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
