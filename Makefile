# The two commands of the README:
#   make run    sets up the environment when needed, then runs the main job
#   make test   sets up the environment when needed, then runs every test
# The environment is a virtualenv in .venv holding exactly requirements.lock plus this
# package (editable), with bytecode compiled so every pipeline task imports quickly.

PYTHON ?= python3
VENV ?= .venv
UV_VERSION ?= 0.13.9
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kfp-mlops-installed
RUN_DIR ?= local_outputs
PYTEST_ARGS ?=

.PHONY: all run test setup lock compile bench clean

all: test

setup: $(STAMP)

# Re-installs only when the lock or the packaging changed since the last install.
$(STAMP): requirements.lock setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip install --python $(PY) --compile-bytecode --require-hashes -r requirements.lock
	$(UV) pip install --python $(PY) --compile-bytecode --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/kfp-mlops run data-validation --local --output-dir $(RUN_DIR) \
		--summary-json $(RUN_DIR)/summary.json

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

compile: $(STAMP)
	$(VENV)/bin/kfp-mlops compile --output-dir build/pipelines

bench: $(STAMP)
	$(PY) bench/bench_statistics.py

# Re-resolves the tested set. uv resolves it in about a minute; pip backtracks for far longer.
lock: $(STAMP)
	$(UV) pip compile requirements.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_36 --generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) build local_outputs .pytest_cache
