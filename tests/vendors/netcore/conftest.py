"""Netcore fixtures: a smaller world (fast scrolls) and a virtual clock frozen at a known moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from emulator.settings import Settings

# 12:10 UTC is 17:40 in Asia/Kolkata (the default account time zone): far from any hour boundary.
NOW = datetime(2026, 3, 15, 12, 10, tzinfo=UTC)
TODAY = date(2026, 3, 15)


def day(offset: int) -> str:
    """A date relative to TODAY, as YYYY-MM-DD."""
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(state_dir=str(tmp_path / "state"), seed=42, scale=0.2)


@pytest.fixture(autouse=True)
def frozen_clock(core):
    core.clock.set(NOW)
    return core.clock


@pytest.fixture
def key(core) -> str:
    return core.settings.netcore_api_key


@pytest.fixture
def v51(key) -> dict[str, str]:
    return {"api_key": key}


@pytest.fixture
def v6(key) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def scroll_all(client, path: str, headers: dict, params: dict, cursor: str = "scrollid") -> list[dict]:
    """Follow scroll ids until an empty page; every page must be 200 and carry a scroll id."""
    rows: list[dict] = []
    query = dict(params)
    for _ in range(10_000):
        response = client.get(path, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body[cursor]
        if not body["data"]:
            return rows
        rows.extend(body["data"])
        query = dict(params, **{cursor: body[cursor]})
    raise AssertionError("the scroll never ended")
