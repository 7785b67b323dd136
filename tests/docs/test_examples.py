"""Every runnable example of README.md and docs/*.md runs as written (see markdown.py for the marks).

One real server (`email-events-emulator serve`, as `make serve` runs it: granian by default) on a free loopback port
serves every page; the examples' `127.0.0.1:8080` is that port. Before each page the server is reset
(journal, jobs, clock) and its scenario cleared, so a page never depends on another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from emulator.faults import load_scenario_file
from tests.docs.markdown import ROOT, all_blocks, blocks, pages
from tests.e2e.server import running_server

PAGES = [p for p in pages() if any(b.mark == "run" for b in blocks(p))]


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory) -> Path:
    """The scenario files the docs show, as a user would save them."""
    folder = tmp_path_factory.mktemp("doc-scenarios")
    for block in all_blocks():
        if block.mark == "scenario-file":
            name = yaml.safe_load(block.code)["name"]
            (folder / f"{name}.yaml").write_text(block.code)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, scenario_dir) -> str:
    with running_server(tmp_path_factory.mktemp("doc-state"), "--workers", "1", "--scenario-dir",
                        str(scenario_dir)) as base:
        yield base


def control(base: str, method: str, path: str) -> None:
    request = urllib.request.Request(f"{base}/_emulator/{path}", method=method)
    urllib.request.urlopen(request, timeout=10).read()


def aimed(code: str, base: str) -> str:
    """The example aimed at the test's server: its host and port for the documented 127.0.0.1:8080."""
    here = base.removeprefix("http://")
    return code.replace("127.0.0.1:8080", here).replace("localhost:8080", here)


def test_every_mark_is_well_formed_and_the_docs_have_examples():
    """markdown.py raises on a mark without its block; each vendor's quick start has a shell and a Python
    block in the README."""
    found = all_blocks()
    readme = [b for b in found if b.page == "README.md" and b.mark == "run"]
    for vendor in ("apsis", "expertsender", "netcore"):
        assert {b.lang for b in readme if f"/{vendor}" in b.code} == {"sh", "python"}, vendor
    assert [b for b in found if b.mark == "run: pytest"], "the plugin page's complete example"


def test_scenario_files_load(scenario_dir):
    """A scenario file the docs show loads with the server's own loader (schema and semantic checks)."""
    files = sorted(scenario_dir.iterdir())
    assert files, "docs/scenarios.md shows complete scenario files"
    for path in files:
        assert load_scenario_file(path)["name"] == path.stem


# The commands the shell examples use besides the emulator's own (.ci/run installs the missing ones).
TOOLS = ("bash", "curl", "jq", "gunzip")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page, server, tmp_path):
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing and any(b.mark == "run" and b.lang == "sh" for b in blocks(page)):
        pytest.skip(f"the shell examples need {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    control(server, "POST", "reset")
    control(server, "DELETE", "scenario")
    namespace: dict = {"__name__": "__doc_example__"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)  # files an example writes land here
    try:
        for block in blocks(page):
            if block.mark != "run":
                continue
            code = aimed(block.code, server)
            if block.lang == "sh":
                done = subprocess.run(["bash", "-e", "-u", "-o", "pipefail", "-c", code], cwd=tmp_path,
                                      env=env, capture_output=True, text=True, timeout=120, check=False)
                output = done.stdout + done.stderr
                assert done.returncode == 0, f"{block.where} exited {done.returncode}:\n{output}"
            else:
                try:
                    exec(compile(code, block.where, "exec"), namespace)  # noqa: S102 (the docs' own example)
                except Exception as exc:
                    raise AssertionError(f"{block.where} raised {exc!r}") from exc
    finally:
        os.chdir(cwd)
