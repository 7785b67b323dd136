# Two commands on a fresh machine with Python 3.11+: `make serve` and `make test`.
# Every install is pinned by constraints.txt (the Dockerfile and CI use it too); `make lock` refreshes it.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
PIP := $(VENV)/bin/pip install --quiet --constraint constraints.txt
export NO_MKDOCS_2_WARNING := 1

.PHONY: serve test docs docs-serve bench lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(PIP) -e ".[test]"
	touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(PIP) -e ".[test,docs]"
	touch $(DOCS_STAMP)

serve: $(STAMP)
	$(VENV)/bin/email-events-emulator serve $(ARGS)

# The command the README gives and CI runs.
test: $(STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

# The docs site (MkDocs, material theme) into site/; --strict fails on a broken link or a page not in nav.
docs: $(DOCS_STAMP)
	$(VENV)/bin/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	$(VENV)/bin/mkdocs serve

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks $(ARGS)

# Re-resolve every runtime, test and docs dependency to its newest release allowed by pyproject.toml and
# pin the result in constraints.txt. Review the diff, run `make test`, commit both.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet ".[test,docs]"
	{ echo "# Pinned dependencies (runtime, test, docs) for make, CI and the Dockerfile. Refresh: make lock"; \
	  .lock-venv/bin/pip freeze --all --exclude email-events-emulator --exclude pip --exclude setuptools \
	    --exclude wheel; } > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .lock-venv site *.egg-info .pytest_cache
