"""ExpertSender test helpers: a client on a fixed virtual clock and CSV parsing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)  # virtual now: 2026-03-10 and -11 are complete days
DAY = "2026-03-10"
KEY = "test_api_key1"


@pytest.fixture
def es(client, core):
    core.clock.set(NOW)

    def get(path: str, **params):
        params.setdefault("apiKey", KEY)
        headers = params.pop("headers", {})
        return client.get("/expertsender" + path, query_string=params, headers=headers)

    return get


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
