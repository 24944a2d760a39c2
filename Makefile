# The README's commands. Each creates .venv when missing and installs what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
SUM    := $(shell cksum pyproject.toml | cut -d' ' -f1)
# One stamp per set of extras: the demo gets the library with its runtime extras only (no torch, jax or
# test tools); the tests and the benchmarks add theirs on top. A changed pyproject.toml reinstalls.
DEMO_STAMP  := $(VENV)/.installed-demo-$(SUM)
TEST_STAMP  := $(VENV)/.installed-test-$(SUM)
BENCH_STAMP := $(VENV)/.installed-bench-$(SUM)
DOCS_STAMP  := $(VENV)/.installed-docs-$(SUM)

.PHONY: demo test lint docs bench system-deps clean

$(PY):
	python3 -m venv $(VENV)

$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all]"
	rm -f $(VENV)/.installed-demo-*
	touch $@

$(TEST_STAMP): $(DEMO_STAMP)
	$(PY) -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-test-*
	touch $@

$(BENCH_STAMP): $(DEMO_STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	rm -f $(VENV)/.installed-bench-*
	touch $@

$(DOCS_STAMP): $(DEMO_STAMP)
	$(PY) -m pip install -q -e ".[docs]"
	rm -f $(VENV)/.installed-docs-*
	touch $@

# Graphviz's `dot` renders the graph drawings; the tests that render need it.
# Chromium runs the explorer's browser tests (Playwright drives Debian's build: no browser download).
system-deps:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	      || echo "warning: could not install graphviz; rendering tests will fail"; \
	  else echo "warning: graphviz's dot is missing (apt-get install graphviz)"; fi; }
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser tests will fail"; \
	  else echo "warning: chromium is missing (apt-get install chromium); the browser tests skip"; fi; }

# The MNIST-1D MLP of Greydanus' table (paper: 68% test accuracy); about 10 s on 2 cores.
demo: $(DEMO_STAMP)
	$(PY) examples/demo.py
	$(VENV)/bin/chainrule train --data mnist1d --model mlp --out runs/demo-mnist1d-mlp --overwrite

# The suite includes the strict documentation build (tests/test_docs.py), so the docs tools come too.
test: lint $(TEST_STAMP) $(DOCS_STAMP) system-deps
	$(PY) -m pytest -q -n 2 -p no:cacheprovider

# The documentation site, into site/ (open site/index.html). --strict: a broken link or reference, a
# malformed docstring or a notebook cell that raises fails the build. The notebooks run in a kernel on
# this .venv's Python (docs/hooks.py registers it), so nothing else needs installing.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Lint and formatting as configured in pyproject.toml ([tool.ruff]); `ruff format .` applies the format.
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(BENCH_STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build site .cache *.egg-info src/*.egg-info .pytest_cache .hypothesis
