# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean notebooks docs bench bench-quick

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m baohu_assign demo --out out/demo

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q -n auto

# Lint and format check (ruff) of every Python tree, type check (mypy) of the package; settings in pyproject.toml.
LINT_PATHS := src tests benchmarks notebooks/scripts docs/gen_api.py docs/gen_schemas.py
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

# Rebuilds notebooks/*.ipynb from notebooks/scripts/ and runs them into build/notebooks/
# (full size; e.g. `BAOHU_NOTEBOOK_HOUSEHOLDS=1000 make notebooks` for a quick run).
notebooks: $(STAMP)
	$(PY) notebooks/build.py --execute --out build/notebooks

# Regenerates docs/api.md from the docstrings of the public API, and docs/schemas/ from the models.
docs: $(STAMP)
	$(PY) docs/gen_api.py
	$(PY) docs/gen_schemas.py

clean:
	rm -rf $(VENV) out build .pytest_cache .hypothesis

# Benchmarks (not part of `make test`): run, then write docs/benchmarks.md and docs/img/.
# bench-quick: towns up to 12k and three GAP instances, within 10 minutes on 2 cores;
# bench: everything (counties up to 1M households; all 27 GAP instances at 1, 10 and 60 s for four solvers,
# which alone is up to 27 × 4 × 71 s ≈ 2.1 h), several hours in all.
# Parts run separately (bench.py --cases/--strategies, gap_bench.py) join with benchmarks/merge.py.
$(VENV)/.bench-installed: $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[bench]'
	touch $@

bench-quick: $(VENV)/.bench-installed
	$(PY) benchmarks/bench.py --quick
	$(PY) benchmarks/report.py

bench: $(VENV)/.bench-installed
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/report.py
