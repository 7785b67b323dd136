"""World generation: cost per hour shard stays constant as the window moves (issue 7, item 5).

`python -m benchmarks.world --against ../main` compares this tree with another one in the same run: each
tree's days generated in processes of their own, taking turns, CPU seconds per event the fastest of the
turns (issue 22: within 1.3x of the tree before the lifecycle)."""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import time

from emulator.world import DAY_MS, HOUR_MS, World

DAY1 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def shard_cost(world: World, day_index: int) -> tuple[float, int]:
    """Seconds and events to generate one whole day (24 shards) starting `day_index` days after DAY1."""
    start = DAY1 + day_index * DAY_MS
    world.shard.cache_clear()
    t0 = time.perf_counter()
    n = 0
    for hour in range(start // HOUR_MS, start // HOUR_MS + 24):
        n += len(world.shard(hour))
    return time.perf_counter() - t0, n


def run(seed: int = 42, scale: float = 1.0) -> list[dict]:
    t0 = time.perf_counter()
    world = World(seed, scale)
    build = time.perf_counter() - t0
    rows = [{"what": "build world (Faker pools)", "seconds": build, "events": 0, "events_per_s": 0.0}]
    for day in (0, 1, 99, 999, 9999):
        seconds, n = shard_cost(world, day)
        rows.append({"what": f"generate day {day + 1} (24 shards)", "seconds": seconds, "events": n,
                     "events_per_s": n / seconds if seconds else 0.0})
    return rows


DAYS = (0, 1, 99, 999, 9999)


def cpu_per_event(seed: int, scale: float) -> tuple[int, float]:
    """(events, CPU seconds) of DAYS generated in a fresh world, numpy imported beforehand (both trees use it)."""
    import numpy  # noqa: F401

    world = World(seed, scale)
    events, seconds = 0, 0.0
    for day in DAYS:
        start = DAY1 + day * DAY_MS
        world.shard.cache_clear()
        t0 = time.process_time()
        events += sum(len(world.shard(hour)) for hour in range(start // HOUR_MS, start // HOUR_MS + 24))
        seconds += time.process_time() - t0
    return events, seconds


def compare(other: str, seed: int, scale: float, turns: int) -> None:
    """Print µs of CPU per event of this tree and of `other`, the fastest of `turns` each, taking turns."""
    here = os.getcwd()
    # The measurement's own source runs in each tree: only emulator.world is imported from the tree.
    code = (f"import sys, time\nsys.path.insert(0, '.')\nfrom emulator.world import DAY_MS, HOUR_MS, World\n"
            f"DAY1, DAYS = {DAY1}, {DAYS}\n{inspect.getsource(cpu_per_event)}\n"
            f"print(*cpu_per_event({seed}, {scale}))")
    best: dict[str, tuple[int, float]] = {}
    for _ in range(turns):
        for tree in (other, here):
            out = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, check=True)
            events, seconds = out.stdout.split()
            if tree not in best or float(seconds) < best[tree][1]:
                best[tree] = (int(events), float(seconds))
    per = {tree: 1e6 * seconds / events for tree, (events, seconds) in best.items()}
    for tree, (events, seconds) in best.items():
        print(f"{tree}: {events:,} events, {seconds:.3f} s CPU, {per[tree]:.3f} µs per event")
    print(f"this tree / other: {per[here] / per[other]:.2f}x per event")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="World generation, this tree against another")
    parser.add_argument("--against", required=True, help="the other tree's root (its emulator package)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    compare(os.path.abspath(args.against), args.seed, args.scale, args.turns)
