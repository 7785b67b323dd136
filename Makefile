# Two commands on a fresh machine with Python 3.11+: `make serve` and `make test`.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: serve test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/email-events-emulator serve $(ARGS)

test: $(STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
