# Every target creates .venv in the repository root on first use; nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-unit bytecode stress demo bench bench-fleet chaos lint samples clean system-packages

# Debian packages the tests and the demo need: Mosquitto (a real MQTT broker), Chromium (the HTML report is
# opened in it) and PostgreSQL (only its binaries: the tests start a server of their own, never Debian's cluster).
# Installed with apt when missing and root.
system-packages:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || missing="$$missing mosquitto"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (as root: apt-get install$$missing)" >&2; exit 1; fi; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq python3-venv; \
	  else echo "Python venv/ensurepip missing: install Debian's python3-venv (as root: apt-get install python3-venv)" >&2; exit 1; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The unit tests first (pure: no socket, subprocess or database server; seconds), stopping at the first failure,
# then the integration tests (a real broker, PostgreSQL, Chromium, simulators, subprocesses).
# The integration tests mostly wait on sockets and subprocesses (each worker keeps about half a core busy), so three
# workers on 2 cores take 5.7 minutes where two took 7.7; --dist loadfile keeps each file's tests (and its fixtures)
# in one worker. `make stress` checks that the suite holds at that load and beside a busy neighbour.
test: $(STAMP) system-packages bytecode
	$(BIN)/python -m pytest -q -x tests/unit
	$(BIN)/python -m pytest -q -n 3 --dist loadfile tests/integration

# The tests start `python -m fuota` hundreds of times: with PYTHONDONTWRITEBYTECODE set (as on some CI machines)
# each start would compile fuota's own modules again, a fifth of a second. compileall writes the bytecode whatever
# the environment says, and only for sources that changed.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q fuota codec

# The fast half alone: needs no Debian package.
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

# The flake hunt: the stress tests, then the suite N times (default 5) beside a busy process; N=10 make stress.
N ?= 5
stress: $(STAMP) system-packages bytecode
	$(BIN)/python -m tests.support.stress --runs $(N)

demo: $(STAMP) system-packages bytecode
	$(BIN)/python -m fuota.sim.showcase

# The crash-consistency harness: campaigns on both simulators, the daemon SIGKILLed at least 24 times.
chaos: $(STAMP) system-packages
	$(BIN)/python -m tests.support.chaos --kills 24

bench: $(STAMP) system-packages
	$(BIN)/python -m benchmarks

# The daemon alone at 100 000 devices on both simulators, SQLite ×1 and PostgreSQL ×3 (make bench runs 10 000).
bench-fleet: $(STAMP) system-packages
	FLEET=$${FLEET:-100000} $(BIN)/python -m benchmarks.bench_fleet

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The specs' JSON samples of the endpoints fuota uses, rewritten into tests/conformance/samples/ (commit them).
samples: $(STAMP)
	$(BIN)/python -m tests.conformance.extract

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis stress-logs
