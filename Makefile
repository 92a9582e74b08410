# The two commands of the README:
#   make run    sets up the environment when needed, then runs the main job
#   make test   sets up the environment when needed, then runs every test
# The environment is a virtualenv in .venv holding exactly requirements.lock (what the
# components run, as in the images) and requirements-dev.lock (the test tools) plus this
# package (editable), with bytecode compiled so every pipeline task imports quickly.

PYTHON ?= python3
VENV ?= .venv
UV_VERSION ?= 0.13.9
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kfp-mlops-installed
RUN_DIR ?= local_outputs
REGISTRY ?= local_registry
PYTEST_ARGS ?=

.PHONY: all run test setup lock compile bench clean

all: test

setup: $(STAMP)

# Re-installs only when the lock or the packaging changed since the last install.
$(STAMP): requirements.lock requirements-dev.lock setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip install --python $(PY) --compile-bytecode --require-hashes \
		-r requirements.lock -r requirements-dev.lock
	$(UV) pip install --python $(PY) --compile-bytecode --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# The main job: the training pipeline on the bundled penguins data, into a local registry.
# A second run finds the first run's champion, compares, and says what it decided.
run: $(STAMP)
	$(VENV)/bin/kfp-mlops run training \
		--param data_uri=pipelines/data/penguins.csv \
		--param label_column=species \
		--param model_name=penguins \
		--param registry_uri=$(REGISTRY) \
		--param 'thresholds={"accuracy": 0.9, "auc": 0.95}' \
		--param 'slice_columns=["island"]' \
		--output-dir $(RUN_DIR) --summary-json $(RUN_DIR)/summary.json

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The tests of what a person sees open the reports in Debian's headless chromium; installed
# here when missing (as root, from the machine's own apt sources).
BROWSER ?= chromium
.PHONY: browser
browser:
	@command -v $(BROWSER) >/dev/null || { \
		echo "installing $(BROWSER) for the report tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER); }

compile: $(STAMP)
	$(VENV)/bin/kfp-mlops compile --output-dir build/pipelines

bench: $(STAMP)
	$(PY) bench/bench_statistics.py

# Re-resolves the tested set. uv resolves it in about a minute; pip backtracks for far longer.
lock: $(STAMP)
	$(UV) pip compile requirements.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_36 --generate-hashes --quiet -o requirements.lock
	$(UV) pip compile requirements-dev.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_36 --generate-hashes --quiet -o requirements-dev.lock
	$(UV) pip compile images/python-slim/requirements.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_36 --generate-hashes --quiet \
		-o images/python-slim/requirements.lock

clean:
	rm -rf $(VENV) build $(RUN_DIR) $(REGISTRY) .pytest_cache

# The component images, built here with Docker, or with podman when no Docker engine answers
# (podman, runc and debootstrap are installed and configured when missing; run as root).
# The first build pays for the stand-in base and the wheels; then podman's layer cache holds.
# images/tools/ is the developers' and CI's tool for this; it is not part of the package.
.PHONY: images test-images
images: $(STAMP)
	$(PY) images/tools/images_cli.py build

# Builds the images, checks them, and runs the pipelines in them against the subprocess runner.
test-images: images
	$(PY) -m pytest -m images $(PYTEST_ARGS)
