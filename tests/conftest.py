"""Shared fixtures: an in-process app with a fresh state directory per test."""

from __future__ import annotations

import pytest

from emulator.app import create_app
from emulator.settings import Settings

pytest_plugins = ["pytester"]  # tests/plugin/ runs inner pytest sessions; allowed only in the root conftest


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(state_dir=str(tmp_path / "state"), seed=42)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def core(app):
    return app.config["EMULATOR_CORE"]


@pytest.fixture
def client(app):
    return app.test_client()
