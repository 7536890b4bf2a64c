# `make test` and `make preview` create the virtualenv on first use from the pinned requirements.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STACK  ?= dev
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck unit fuzz preview bench web clean

$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

test: lint typecheck unit

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest

# The property-based tests only, FUZZ_EXAMPLES (default 3000) examples each, with random seeds and
# Hypothesis' example database; ends with the number of cases each property ran (tests/fuzzing.py).
FUZZ_EXAMPLES ?= 3000
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -m property --fuzz-summary

preview: $(STAMP)
	$(PY) -m offline preview --stack $(STACK)$(if $(JSON), --json $(JSON))$(if $(BASE), --base $(BASE))

bench: $(STAMP)
	$(PY) -m bench

# The chat page on this machine: real invoker, scripted fake agent, fake sign-in (tests/web/serve.py).
web: $(STAMP)
	$(PY) -m tests.web.serve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
