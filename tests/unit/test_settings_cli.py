"""Settings come from flags over EMULATOR_* variables over defaults; the banner shows base URLs."""

from __future__ import annotations

import argparse

import pytest

from emulator.cli import banner, main, settings_from_args
from emulator.settings import DEFAULT_EXPERTSENDER_API_KEY, Settings, SettingsError, from_env


def test_defaults_are_loopback_with_documented_credentials():
    s = from_env({})
    assert (s.host, s.port, s.seed, s.scenarios) == ("127.0.0.1", 8080, 42, ("default",))
    assert s.expertsender_api_key == DEFAULT_EXPERTSENDER_API_KEY == "test_api_key1"


def test_environment_variables_are_read():
    s = from_env({"EMULATOR_PORT": "9000", "EMULATOR_SEED": "7", "EMULATOR_SCENARIO": "flaky, rate-limited",
                  "EMULATOR_VENDOR_PORTS": "true", "EMULATOR_NETCORE_API_KEY": "k"})
    assert (s.port, s.seed, s.scenarios, s.vendor_ports, s.netcore_api_key) == (
        9000, 7, ("flaky", "rate-limited"), True, "k")
    assert [s.vendor_port(v) for v in ("apsis", "expertsender", "netcore")] == [9001, 9002, 9003]


def test_flags_win_over_environment(monkeypatch):
    monkeypatch.setenv("EMULATOR_PORT", "9000")
    monkeypatch.setenv("EMULATOR_SCENARIO", "flaky")
    args = argparse.Namespace(host=None, port=9100, server=None, workers=None, threads=None, seed=None, scale=None,
                              scenario=["rate-limited"], state_dir=None, scenario_dir=None, vendor_ports=None,
                              log_level=None)
    s = settings_from_args(args)
    assert (s.port, s.scenarios) == (9100, ("rate-limited",))


@pytest.mark.parametrize("env", [{"EMULATOR_PORT": "abc"}, {"EMULATOR_PORT": "70000"}, {"EMULATOR_SCALE": "0"}])
def test_bad_values_are_refused_with_the_variable_named(env):
    with pytest.raises(SettingsError):
        from_env(env)


def test_bad_variable_stops_serve_with_a_message(monkeypatch, capsys):
    monkeypatch.setenv("EMULATOR_WORKERS", "many")
    assert main(["serve"]) == 2
    assert "EMULATOR_WORKERS" in capsys.readouterr().err


def test_banner_prints_effective_settings_and_each_vendor_base_url():
    text = banner(Settings(port=9000, vendor_ports=True))
    for url in ("http://127.0.0.1:9000/apsis", "http://127.0.0.1:9000/expertsender",
                "http://127.0.0.1:9000/netcore", "http://127.0.0.1:9001", "http://127.0.0.1:9003"):
        assert url in text
    assert "test_api_key1" in text and "seed" in text
