# The two commands: `make demo` and `make test`. Both create .venv when it is
# missing, so a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: demo ray-demo test lint typecheck pytest pytest-pinned test-pinned bench soak clean system-tools browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[spark,service]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[spark,test,bench]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/python -m examples.main_demo

# The Spark connector on a local three-node Ray cluster (needs the ray extra).
ray-demo: $(STAMP_TEST)
	$(BIN)/python -m examples.ray_demo

lint: $(STAMP_TEST)
	$(BIN)/ruff check .

typecheck: $(STAMP_TEST)
	$(BIN)/mypy --strict actorfsm actors examples benchmarks

# The MQTT tests run a real broker: Debian's mosquitto, installed once (as root).
MOSQUITTO := /usr/sbin/mosquitto
$(MOSQUITTO):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends mosquitto >/dev/null; \
	else echo "not root: install mosquitto for the MQTT tests (apt-get install mosquitto)"; fi

pytest: $(STAMP_TEST) $(MOSQUITTO) system-tools
	$(BIN)/python -m pytest -q

# Debian packages the tests use: Chromium and its driver (the observer page's browser
# tests, run by Selenium with no browser download) and promtool (the alert rules).
# Installed once, as root or through sudo; nothing happens when they are present.
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/chromedriver /usr/bin/promtool
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
APT_INSTALL := $(APT_GET) install -y --no-install-recommends chromium chromium-driver prometheus

system-tools browser: $(SYSTEM_TOOLS)

$(SYSTEM_TOOLS) &:
	$(APT_INSTALL) || ($(APT_GET) update && $(APT_INSTALL))

# The framework's tests again with every FSM on a dedicated thread, so both
# runtimes stay correct (test-pinned runs the whole suite that way).
pytest-pinned: $(STAMP_TEST) system-tools
	ACTORFSM_DISPATCHER=pinned $(BIN)/python -m pytest -q tests/actorfsm tests/actors/test_buncher.py

test-pinned: $(STAMP_TEST) system-tools
	ACTORFSM_DISPATCHER=pinned $(BIN)/python -m pytest -q

test: lint typecheck pytest pytest-pinned

bench: $(STAMP_TEST)
	$(BIN)/python -m benchmarks.run_all

# The chaos soak (1,000 faults by default); e.g. make soak SOAK_ARGS="--seed 2 --json soak.json"
soak: $(STAMP_RUN)
	$(BIN)/python -m actors.spark.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis test-artifacts
