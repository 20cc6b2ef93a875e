# Two verbs do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(abspath $(VENV))/bin
# Every extra: the whole test suite needs the browser, PostgreSQL and Dask ones too.
EXTRAS := test,browser,postgres,cluster
# nbgrader shells out to alembic: the environment's bin/ must come first on PATH.
export PATH := $(BIN):$(PATH)

.PHONY: setup lint chromium postgres sandbox axe demo test release grade lab bench bench-grading clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

demo: setup sandbox release  ## regenerate course/, grade the sample class in build/sample-class, print the scores
	$(BIN)/python -m autograde demo

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "Chromium is needed for the browser tests: sudo apt-get install chromium"; exit 1; }

# The gradebook tests start their own PostgreSQL server from Debian's packages (initdb, pg_ctl).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
	  { echo "PostgreSQL is needed for the gradebook tests: sudo apt-get install postgresql"; exit 1; }

# Student code runs in a bubblewrap sandbox (Debian's bubblewrap); without it, in namespaces (root).
sandbox:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; } || \
	  echo "bubblewrap is missing (sudo apt-get install bubblewrap): student code gets a weaker sandbox"

# The accessibility tests inject axe-core (from npm) into the pages they check; git-ignored under build/.
AXE := build/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE):
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; } || \
	  { echo "npm is needed for the accessibility tests: sudo apt-get install npm"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix build/axe axe-core@4

lint: setup      ## ruff, with the rules in pyproject.toml
	$(BIN)/ruff check .

test: setup lint chromium postgres sandbox axe  ## ruff, then the whole test suite
	$(BIN)/python -m pytest -n auto --dist loadgroup

release: setup   ## regenerate course/ from solutions/
	$(BIN)/python -m autograde release

grade: setup     ## autograde everything in submitted/ and print the scores
	$(BIN)/python -m autograde grade

lab: setup       ## JupyterLab with the nbgrader extensions (Assignments, Formgrader)
	$(BIN)/jupyter lab

bench: setup     ## time each solutions notebook in a fresh kernel, and the widgets' redraws
	$(BIN)/python benchmarks/notebook_times.py
	$(BIN)/python benchmarks/widget_latency.py

bench-grading: setup  ## grade the sample class: batch grader against sequential nbgrader autograde
	$(BIN)/python benchmarks/class_grading.py

clean:
	rm -rf build submitted autograded feedback reports grades.csv answer_keys gradebook.db .pytest_cache
