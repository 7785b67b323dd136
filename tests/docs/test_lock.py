"""Reproducible installs: constraints.txt pins every dependency, and make, CI and the Dockerfile use it, so
an image and a virtualenv built the same day (or a year apart) get the same Faker, gunicorn and numpy (the
world's bytes depend on Faker's data)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from tests.docs.markdown import ROOT


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"constraints.txt: {line!r} is not NAME==VERSION"
            found[canonical(name)] = version.strip()
    return found


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return canonical(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0])


def test_every_direct_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    wanted = [*project["dependencies"], *[d for extra in extras for d in extra]]
    missing = sorted({requirement_name(d) for d in wanted} - set(pins()))
    assert not missing, f"not in constraints.txt (run `make lock`): {missing}"


def test_make_ci_and_the_image_install_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text()
    assert "--constraint constraints.txt" in makefile and "\nlock:" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # through make, hence the constraints
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md constraints.txt" in dockerfile
    assert "'--constraint', 'constraints.txt'" in dockerfile


def test_this_environment_runs_the_pinned_runtime():
    """The runtime dependencies installed here are the pinned releases (make reinstalls when the lock
    changes: its stamp depends on constraints.txt)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = pins()
    for spec in project["dependencies"]:
        name = requirement_name(spec)
        assert importlib.metadata.version(name) == locked[name], name


def test_ci_runs_the_readme_commands():
    """The README's two set-up commands are the ones CI runs (`.ci/run`: `make test`, then the docs site)."""
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in setup.strip().splitlines()] == ["make serve", "make test"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in ci and "make docs" in ci
    makefile = (ROOT / "Makefile").read_text()
    assert "mkdocs build --strict" in makefile
