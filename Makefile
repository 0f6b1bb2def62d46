# injuryledger — `make run` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export INJURYLEDGER_CACHE ?= $(HOME)/.cache/injuryledger

.PHONY: run run-distributed test test-fast bench fuzz install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## the embedded system with a demo region on http://127.0.0.1:8000
	$(PY) -m injuryledger run

run-distributed: $(STAMP)  ## PostgreSQL + Kafka + four services + gateway on :8000
	bash deploy/run-distributed.sh

test: $(STAMP)  ## every test, embedded and on real PostgreSQL + Kafka
	bash deploy/test.sh

test-fast: $(STAMP)  ## unit and embedded tests only
	$(PY) -m pytest -q -m "not kafka and not postgres"

bench: $(STAMP)  ## benchmarks against named peers; results in bench/results/
	bash deploy/bench.sh

fuzz: $(STAMP)  ## schemathesis over the whole OpenAPI with many examples (FUZZ_EXAMPLES, default 1000)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest -q -s tests/trust/test_fuzz.py

clean:
	rm -rf data .pytest_cache
