# The whole setup on a fresh machine is `make demo` and `make test`:
# both build the virtualenv from pyproject.toml on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The suite runs on a worker per core (pytest-xdist); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
# Test archives go to tmpfs where there is one: the crawler fsyncs every file it writes,
# and on a disk those waits were half the time of the crawl tests. The tests kill
# processes, never the machine, so an fsync that costs nothing hides nothing from them.
# A run leaves about 300 MB there; pytest keeps the last three runs' directories.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo $${TMPDIR:-/tmp})

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m crawler.demo

# loadgroup: tests marked xdist_group(name) share a worker; the slowest ten are printed.
test: $(STAMP)
	TMPDIR=$(TEST_TMPDIR) $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=10

lint: $(STAMP)
	$(VENV)/bin/ruff check crawler tests bench
	$(VENV)/bin/ruff format --check crawler tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) demo-archive .pytest_cache .mypy_cache .ruff_cache
