"""World generation: cost per hour shard stays constant as the window moves (issue 7, item 5)."""

from __future__ import annotations

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
