"""Scenario files are checked against their JSON Schema; a bad file stops start-up with a clear message."""

from __future__ import annotations

import pytest
import yaml

from emulator.cli import main
from emulator.contracts import contracts_dir, parse_yaml
from emulator.core import build_core
from emulator.faults import ScenarioError, builtin_scenario_dir, load_library
from emulator.settings import Settings


def test_every_shipped_scenario_is_valid_and_listed(capsys):
    library = load_library()
    assert {"default", "rate-limited", "export-fails", "expired-poll-urls", "oversized-request",
            "slow-exports", "flaky"} <= set(library)
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in library)


def test_start_up_reads_yaml_as_the_pure_python_safe_loader_does():
    """The contracts and scenario files are parsed with libyaml for a quicker start; every shipped file must
    give the document `yaml.safe_load` gives."""
    files = sorted(contracts_dir().glob("*.yaml")) + sorted(builtin_scenario_dir().glob("*.yaml"))
    assert len(files) >= 20
    for path in files:
        text = path.read_text()
        assert parse_yaml(text) == yaml.safe_load(text), path.name


def write(tmp_path, name, text):
    (tmp_path / f"{name}.yaml").write_text(text)
    return tmp_path


@pytest.mark.parametrize("text, expected", [
    ("name: bad\ndescription: x\nrules:\n  - name: slow\n    action: {delay_ms: -1}\n",
     "rule #1 ('slow'): action.delay_ms"),
    ("name: bad\ndescription: x\nrules:\n  - name: r1\n    match: {vendor: mailchimp}\n    action: {status: 500}\n",
     "rule #1 ('r1'): match.vendor"),
    ("name: bad\ndescription: x\nrules:\n  - name: r1\n    match: {path: emails}\n    action: {status: 500}\n",
     "match.path"),
    ("name: bad\ndescription: x\nrules:\n  - name: r1\n    action: {status: 200}\n", "action.status"),
    ("name: bad\ndescription: x\nrules: [ {name: a\n", "not valid YAML"),
    ("name: other\ndescription: x\n", "must equal the file name"),
])
def test_bad_scenario_file_names_file_rule_and_problem(tmp_path, text, expected):
    directory = write(tmp_path, "bad", text)
    with pytest.raises(ScenarioError) as info:
        load_library(str(directory))
    assert str(directory / "bad.yaml") in str(info.value)
    assert expected in str(info.value)


def test_bad_scenario_file_stops_start_up(tmp_path, capsys):
    directory = write(tmp_path, "bad", "name: bad\ndescription: x\nrules:\n  - name: r\n    action: {}\n")
    code = main(["serve", "--scenario-dir", str(directory), "--state-dir", str(tmp_path / "s")])
    assert code == 2
    assert "bad.yaml" in capsys.readouterr().err


def test_user_scenario_directory_adds_scenarios(tmp_path):
    directory = write(tmp_path, "my-faults", "name: my-faults\ndescription: mine\nrules:\n"
                      "  - name: r\n    match: {vendor: netcore}\n    action: {status: 502}\n")
    core = build_core(Settings(state_dir=str(tmp_path / "s"), scenario_dir=str(directory),
                               scenarios=("my-faults",)))
    assert core.faults.active()["names"] == ["my-faults"]


def test_unknown_start_up_scenario_is_refused(tmp_path):
    with pytest.raises(ValueError, match="known: .*default"):
        build_core(Settings(state_dir=str(tmp_path), scenarios=("nope",)))
