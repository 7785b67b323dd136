"""`python -m benchmarks [--full]`: print the tables and write benchmarks/RESULTS.md and results.json.

--full adds the long cases (about a million rows per export, and a 45-day memory run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from . import exports, serving, world

HERE = Path(__file__).parent


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--full", action="store_true", help="also the ~1M-row exports and the 45-day memory run")
    args = parser.parse_args()
    sections = []

    results = exports.run(args.full)
    sections.append(("Export streaming (in-process, download only)", table(
        ["export", "size", "rows", "seconds", "rows/s", "raw MB/s", "sent MB/s", "zlib-6 ratio", "target"],
        [[r.case, r.size, str(r.rows), f"{r.seconds:.2f}", f"{r.rows_per_s:,.0f}",
          f"{r.raw_bytes / r.seconds / 1e6:.1f}", f"{r.sent_bytes / r.seconds / 1e6:.1f}",
          f"{r.ratio:.2f}" if r.ratio is not None else "-",
          "ratio >= 0.5" if r.ratio is not None else ">= 200k rows/s"] for r in results])))

    start = serving.startup()
    sections.append(("Start-up", table(["figure", "seconds", "target"], [
        ["launch to first healthy answer", f"{start['to_healthy_s']:.3f}", "< 1 s"],
        ["first request of the world (builds it)", f"{start['first_world_request_s']:.3f}", ""]])))

    mem = serving.memory((0.5, 5.0, 45.0) if args.full else (0.5, 5.0))
    base = mem[0]["peak_rss_mb"]
    sections.append(("Memory of the serving worker (APSIS email export)", table(
        ["window (days)", "rows", "peak RSS MB", "growth MB", "target"],
        [[f"{m['window_days']:g}", str(m["rows"]), f"{m['peak_rss_mb']:.1f}", f"{m['peak_rss_mb'] - base:.1f}",
          "growth < 50 MB"] for m in mem])))

    shards = world.run()
    sections.append(("World generation", table(["what", "seconds", "events", "events/s"], [
        [s["what"], f"{s['seconds']:.3f}", str(s["events"]), f"{s['events_per_s']:,.0f}"] for s in shards])))

    header = (f"# Benchmark results\n\nMachine: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}. "
              f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Command: `python -m benchmarks"
              f"{' --full' if args.full else ''}`.\n")
    text = header + "".join(f"\n## {title}\n\n{body}\n" for title, body in sections)
    print(text)
    (HERE / "RESULTS.md").write_text(text)
    (HERE / "results.json").write_text(json.dumps({
        "exports": [asdict(r) for r in results], "startup": start, "memory": mem, "world": shards}, indent=2))


if __name__ == "__main__":
    main()
