"""`python -m benchmarks [--full]`: print the tables and write benchmarks/RESULTS.md and results.json.

--full adds the long cases (a million rows per export, and memory while streaming 1M and 5M rows).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from . import exports, load, serving, world

HERE = Path(__file__).parent


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


EXPORT_NOTE = (
    "Each export as a client gets it (token, request, virtual clock moved, status), timing the download only. "
    "`cold`: a new world of the seed (its catalogue and recipients built, as by the first request of a seed, "
    "measured under Start-up) whose hour shards are generated while the file streams; `warm`: the same "
    "request again with the shards cached (beyond the shard cache, about three days at scale 1, that is cold "
    "again; and the processes rendering a big export generate its events again, since what they generate dies "
    "with them: with `processes` above 1, warm differs from cold by the machine's noise only). zlib-6 ratio: "
    "seconds Python's zlib needs at level 6 for the same uncompressed bytes, over the seconds the export "
    "took (>= 0.5: at most twice zlib's time). Each figure is the fastest of five runs (two for the "
    "million-row CSV cases, one for the million-row JSON), and zlib's the fastest of as many. A timed run "
    "drops each chunk as it arrives, as a client in another process lets the server free it; an untimed run "
    "first gives the body (rows, sizes, zlib). `processes`: 1 when the export was rendered in the worker, "
    "else the forked processes rendering it at a time.\n\n")
STARTUP_NOTE = (
    "`email-events-emulator serve --workers 1` launched as a new process, its package's bytecode compiled "
    "beforehand as in the container image; the fastest of three launches.\n\n")
MEMORY_NOTE = (
    "One server (one worker) per export streams exports of growing windows in turn; `rows` are the events "
    "of the file (CSV lines, or the profile export's events). An export big enough is "
    "rendered by forked processes (EMULATOR_EXPORT_PROCESSES), which share the worker's pages until they write "
    "to them: the total is the worker's peak RSS plus the largest sum of the rendering processes' private "
    "memory (USS, from /proc/PID/smaps_rollup, sampled every 20 ms while the file streams).\n\n")
LOAD_NOTE = (
    "wrk (2 threads, 16 connections) against `email-events-emulator serve` on loopback, on the same 2 cores. "
    "Each endpoint first runs for a second, not measured, so that each worker has built the world and generated "
    "the days asked for (Start-up and Export streaming measure those); then three runs, of which the one with "
    "the median p99 is shown. "
    "Export status stays pending and the poll URL answers 404 for the whole run. granian (keep-alive, one "
    "thread a worker) is the default server; gunicorn's sync workers for comparison. "
    "`python -m benchmarks.peers` measures the emulator side by side with other mock servers.\n\n")


def _export_target(r: exports.Result) -> list[str]:
    if "JSON" in r.case:  # the targets are for the CSV exports; JSON is reported
        return ["", ""]
    if r.ratio is not None:
        return ["ratio >= 0.5", "yes" if r.ratio >= 0.5 else "no"]
    return [">= 200k rows/s", "yes" if r.rows_per_s >= 200_000 else "no"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--full", action="store_true", help="also the 1M-row exports and the 1M/5M memory runs")
    parser.add_argument("--load-seconds", type=float, default=4.0, help="wrk run per endpoint (default 4)")
    args = parser.parse_args()
    sections = []

    calibration = exports.calibration()
    results = exports.run(args.full)
    sections.append(("Export streaming (in-process, download only)", EXPORT_NOTE + table(
        ["export", "rows", "world", "processes", "seconds", "rows/s", "raw MB/s", "sent MB/s", "zlib-6 ratio",
         "target", "met"],
        [[r.case, f"{r.rows:,}", r.world, str(r.processes), f"{r.seconds:.2f}", f"{r.rows_per_s:,.0f}",
          f"{r.raw_bytes / r.seconds / 1e6:.1f}", f"{r.sent_bytes / r.seconds / 1e6:.1f}",
          f"{r.ratio:.2f}" if r.ratio is not None else "-", *_export_target(r)] for r in results])))

    figures = load.run(args.load_seconds)
    if figures:
        sections.append(("Requests under load (wrk, 16 connections)", LOAD_NOTE + table(
            ["worker model", "endpoint", "req/s", "p50 ms", "p99 ms", "target", "met"],
            [[f.model, f.endpoint, f"{f.requests_per_s:,.0f}", f"{f.p50_ms:.2f}", f"{f.p99_ms:.2f}",
              f"p99 < {f.target_ms:g} ms" if f.target_ms else "",
              ("yes" if f.p99_ms < f.target_ms else "no") if f.target_ms else ""] for f in figures])))
    else:
        sections.append(("Requests under load", "Skipped: `wrk` is not installed (`apt-get install wrk`)."))

    start = serving.startup()
    sections.append(("Start-up", STARTUP_NOTE + table(["figure", "seconds", "target"], [
        ["launch to first healthy answer", f"{start['to_healthy_s']:.3f}", "< 1 s"],
        ["first request of the world (builds it)", f"{start['first_world_request_s']:.3f}", ""]])))

    mem = serving.memory((0.3, 1.6, 16.0, 78.0) if args.full else (0.3, 1.6))
    base = {m["export"]: m["total_mb"] for m in reversed(mem)}  # each export's smallest window
    sections.append((f"Memory of the serving worker (APSIS exports, scale {serving.MEMORY_SCALE:g})",
                     MEMORY_NOTE + table(
        ["export", "window (days)", "rows", "worker peak RSS MB", "rendering processes", "their private MB",
         "total MB", "growth MB", "target", "met"],
        [[m["export"], f"{m['window_days']:g}", f"{m['rows']:,}", f"{m['peak_rss_mb']:.1f}",
          str(m["render_processes"]), f"{m['render_private_mb']:.1f}", f"{m['total_mb']:.1f}",
          f"{m['total_mb'] - base[m['export']]:.1f}", "growth < 50 MB",
          "yes" if m["total_mb"] - base[m["export"]] < 50 else "no"] for m in mem])))

    calibration = min(calibration, exports.calibration())
    shards = world.run()
    sections.append(("World generation", table(["what", "seconds", "events", "events/s", "µs per event"], [
        [s["what"], f"{s['seconds']:.3f}", f"{s['events']:,}", f"{s['events_per_s']:,.0f}",
         f"{1e6 / s['events_per_s']:.2f}" if s["events_per_s"] else "-"] for s in shards])))

    header = (f"# Benchmark results\n\nMachine: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, Python {platform.python_version()}; speed now: {calibration:.2f} s for "
              f"a 10M-iteration Python loop (before and after, the better; compare it across results files). "
              f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Command: `python -m benchmarks"
              f"{' --full' if args.full else ''}`.\n")
    text = header + "".join(f"\n## {title}\n\n{body}\n" for title, body in sections)
    print(text)
    (HERE / "RESULTS.md").write_text(text)
    (HERE / "results.json").write_text(json.dumps({
        "exports": [asdict(r) for r in results], "load": [asdict(f) for f in figures], "startup": start,
        "memory": mem, "world": shards}, indent=2))


if __name__ == "__main__":
    main()
