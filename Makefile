# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install clean notebooks docs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m baohu_assign demo --out out/demo

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q

# Rebuilds notebooks/*.ipynb from notebooks/scripts/ and runs them into build/notebooks/
# (full size; e.g. `BAOHU_NOTEBOOK_HOUSEHOLDS=1000 make notebooks` for a quick run).
notebooks: $(STAMP)
	$(PY) notebooks/build.py --execute --out build/notebooks

# Regenerates docs/api.md from the docstrings of the public API.
docs: $(STAMP)
	$(PY) docs/gen_api.py

clean:
	rm -rf $(VENV) out build .pytest_cache .hypothesis
