"""The Docker fixture container: the image, docker-compose.yml and the health checks they carry.

The image tests need a usable Docker daemon and skip without one (quickly: `docker info` gets a short
timeout). The file checks run always; the health-check commands and the compose sample service's script
run against a server of the pytest plugin on loopback.
"""

from __future__ import annotations

import functools
import http.client
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from emulator.settings import ENV_VARS

from .server import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "email-events-emulator:pytest"
TOKEN = "pytest-control-token"
# EMULATOR_* variables read by the pytest plugin (a test runner's side), not by the server's settings.
PLUGIN_VARS = {"EMULATOR_URL"}


@functools.cache
def docker_unusable() -> str | None:
    """Why Docker cannot be used here, or None when it can."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False,
                              capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 5 s"
    if info.returncode != 0:
        lines = (info.stderr or info.stdout).strip().splitlines()
        return f"no usable Docker daemon (`docker info`: {lines[-1] if lines else info.returncode})"
    return None


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"docker {shlex.join(args)} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def image() -> str:
    reason = docker_unusable()
    if reason:
        pytest.skip(f"Docker image tests skipped: {reason}")
    docker("build", "--quiet", "-t", IMAGE, str(ROOT), timeout=1200)
    return IMAGE


def http_status(url: str, headers: dict | None = None) -> int | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, http.client.HTTPException):  # refused, or reset by the port proxy while starting
        return None


@pytest.mark.docker
def test_container_starts_fast_as_non_root_without_compilers_or_test_deps(image):
    port = free_port()
    cid = docker("run", "-d", "-p", f"127.0.0.1:{port}:8080", "-e", f"EMULATOR_CONTROL_TOKEN={TOKEN}",
                 "-e", "EMULATOR_SEED=7", image).stdout.strip()
    started = time.monotonic()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = started + 60
        while http_status(base + "/_emulator/health") != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"no health within 60 s; logs:\n{docker('logs', cid, check=False).stdout}")
            time.sleep(0.05)
        startup = time.monotonic() - started
        logs = docker("logs", cid, check=False)
        assert startup < 2.0, f"health {startup:.2f} s after docker run; logs:\n{logs.stdout}{logs.stderr}"

        with urllib.request.urlopen(base + "/_emulator/health", timeout=5) as r:
            assert json.load(r)["seed"] == 7
        # Beyond loopback (0.0.0.0 in the container) the control API needs the token.
        assert http_status(base + "/_emulator/clock") == 401
        assert http_status(base + "/_emulator/clock", {"X-Emulator-Token": TOKEN}) == 200

        assert docker("exec", cid, "id", "-u").stdout.strip() not in ("", "0")
        tools = docker("exec", cid, "sh", "-c", "command -v gcc cc g++ c++ make || true").stdout.strip()
        assert tools == "", f"compilers in the image: {tools}"
        probe = ("import importlib.util as u; "
                 "print([m for m in ('pytest', 'schemathesis', 'pepipost') if u.find_spec(m)])")
        assert docker("exec", cid, "python", "-c", probe).stdout.strip() == "[]"

        # The image's own HEALTHCHECK passes (its first run comes after --interval).
        deadline = time.monotonic() + 30
        health_status = ("inspect", "--format", "{{.State.Health.Status}}", cid)
        while (state := docker(*health_status).stdout.strip()) != "healthy":
            assert state in ("starting", ""), f"HEALTHCHECK state {state!r}"
            assert time.monotonic() < deadline, "the image's HEALTHCHECK did not pass within 30 s"
            time.sleep(0.5)
    finally:
        docker("rm", "-f", cid, check=False)


# --- files, always checked ------------------------------------------------------------------------------

def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def test_compose_file():
    services = compose()["services"]
    emulator, tests = services["emulator"], services["tests"]
    test = emulator["healthcheck"]["test"]
    assert "/_emulator/health" in (test if isinstance(test, str) else " ".join(test))
    assert any(str(p).endswith(":8080") for p in emulator["ports"])
    env = environment(emulator)
    assert {"EMULATOR_SEED", "EMULATOR_SCENARIO", "EMULATOR_CONTROL_TOKEN"} <= set(env)
    assert set(env) <= set(ENV_VARS), f"not emulator settings: {set(env) - set(ENV_VARS)}"
    # Every EMULATOR_* variable any service sets is a setting (emulator/settings.py) or read by the plugin.
    plugin = (ROOT / "emulator" / "pytest_plugin.py").read_text()
    assert all(f'"{name}"' in plugin for name in PLUGIN_VARS)
    for name, service in services.items():
        unknown = {v for v in environment(service) if v.startswith("EMULATOR_")} - set(ENV_VARS) - PLUGIN_VARS
        assert not unknown, f"service {name} sets unknown variables {unknown}"
    check = emulator["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and {"interval", "timeout", "retries"} <= set(check)
    assert tests["depends_on"]["emulator"]["condition"] == "service_healthy"
    assert environment(tests)["EMULATOR_CONTROL_TOKEN"] == env["EMULATOR_CONTROL_TOKEN"]
    assert environment(tests)["EMULATOR_URL"] == "http://emulator:8080"


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    env = dict(re.findall(r"\b(EMULATOR_[A-Z_]+)=(\S+)", text))
    assert env["EMULATOR_HOST"] == "0.0.0.0" and env["EMULATOR_PORT"] == "8080"
    assert set(env) <= set(ENV_VARS)
    assert re.search(r"^FROM python:3\.\d+-slim\b", text, re.MULTILINE)
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    installs = re.findall(r"pip install[^\n]*", text)
    assert installs and not any("[test]" in line for line in installs)
    assert "HEALTHCHECK" in text and re.search(r"^EXPOSE 8080\b", text, re.MULTILINE)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "tests"} <= set(ignored)


def healthcheck_commands(port: int) -> list[list[str]]:
    """The compose and the Dockerfile health checks, as argv aimed at `port`."""
    test = compose()["services"]["emulator"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    compose_cmd = [sys.executable, *[arg.replace(":8080/", f":{port}/") for arg in test[2:]]]
    line = re.search(r"CMD (python -c .*)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE).group(1)
    dockerfile_cmd = [sys.executable, *shlex.split(line)[1:]]
    # The GitHub Actions service of docs/running.md: `--health-cmd "..."`, run by the container's shell.
    running = (ROOT / "docs" / "running.md").read_text()
    actions = re.search(r'--health-cmd "(.*)"$', running, re.MULTILINE).group(1)
    actions_cmd = ["sh", "-c", actions.replace("python ", f"{shlex.quote(sys.executable)} ", 1)
                   .replace(":8080/", f":{port}/")]
    return [compose_cmd, dockerfile_cmd, actions_cmd]


def test_healthcheck_commands(email_events_emulator):
    port = int(email_events_emulator.url.rsplit(":", 1)[1])
    closed = free_port()
    for up, down in zip(healthcheck_commands(port), healthcheck_commands(closed), strict=True):
        ok = subprocess.run(up, check=False, env={"EMULATOR_PORT": str(port)}, capture_output=True,
                            timeout=20)
        assert ok.returncode == 0, ok.stderr
        bad = subprocess.run(down, check=False, env={"EMULATOR_PORT": str(closed)}, capture_output=True,
                             timeout=20)
        assert bad.returncode != 0


def test_compose_sample_tests_service(email_events_emulator):
    """The sample `tests` service's script, against a loopback server (where the token is not needed)."""
    command = compose()["services"]["tests"]["command"]
    assert command[:2] == ["python", "-c"]
    run = subprocess.run([sys.executable, "-c", command[2]], check=False, capture_output=True, text=True,
                         timeout=120,
                         env={"EMULATOR_URL": email_events_emulator.url, "EMULATOR_CONTROL_TOKEN": TOKEN})
    assert run.returncode == 0, run.stderr
    expected = r"[1-9]\d* ExpertSender sends on \d{4}-\d\d-\d\d; journal: 1 request\(s\)\n"
    assert re.fullmatch(expected, run.stdout), run.stdout
