# Customer-wallet service. `make run` and `make test` work on a fresh clone:
# the first target that needs the virtualenv creates it and installs the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
PROTO := protos/wallet/v1/wallet.proto protos/wallet/v1/webhooks.proto
PYTEST_ARGS ?=
# Worker processes of `make test` (tests/scheduling.py says how work is spread); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 4

.PHONY: run-ha ha-status test-failover
.PHONY: audit browser help install run migrate test test-console test-unit test-integration test-e2e test-faults test-clients lint typecheck generate \
	check-generated buf-lint ci clean bench bench-quick bench-profile verify

help:
	@echo "make run        serve on 127.0.0.1:50051 (private PostgreSQL under .data/ unless DATABASE_URL is set)"
	@echo "                and the support console on http://127.0.0.1:8080 (WALLET_CONSOLE_ADDR= to leave it off)"
	@echo "make test       the whole test suite against a real PostgreSQL"
	@echo "make migrate    apply database migrations to DATABASE_URL (or the private PostgreSQL)"
	@echo "make verify     check the ledger: balances equal their entries, chains unbroken"
	@echo "make generate   regenerate generated/ from protos/"
	@echo "make lint typecheck buf-lint check-generated"
	@echo "make bench      full benchmark against pgbench/echo/cursor baselines -> bench/results/latest.json"
	@echo "make bench-quick  every benchmark scenario briefly (under 3 minutes)"
	@echo "make run-ha     PostgreSQL primary + synchronous standby under Patroni and etcd, and the service (.data/ha/)"
	@echo "make ha-status  one JSON line per database node and one for the service"
	@echo "make test-failover  the failover drill: the primary killed twice under load, nothing acknowledged lost"
	@echo "make bench-profile  py-spy flame graphs of the server during scenarios 1 and 2 -> bench/results/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev,embedded,console]"
	@touch $(STAMP)

install: $(STAMP)

# The bench extra on top of the dev install (psutil, py-spy).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,embedded,console,bench]"
	@touch $(BENCH_STAMP)

# The support console (docs/console.md) runs beside the service, against it, until the service stops;
# it prints its URL once the service answers. WALLET_CONSOLE_ADDR= (empty) serves the API alone.
WALLET_CONSOLE_ADDR ?= 127.0.0.1:8080

run: $(STAMP)
	@if [ -n "$(WALLET_CONSOLE_ADDR)" ]; then \
		WALLET_CONSOLE_ADDR="$(WALLET_CONSOLE_ADDR)" WALLET_ADDR="$${WALLET_ADDR:-$${WALLET_LISTEN_ADDR:-127.0.0.1:50051}}" \
			$(BIN)/wallet console & console=$$!; \
		trap 'kill $$console 2>/dev/null; wait $$console 2>/dev/null' EXIT INT TERM; \
	fi; \
	$(BIN)/python -m server

migrate: $(STAMP)
	$(BIN)/python -m server migrate

# Checks every balance against its entries and every before/after chain.
verify: $(STAMP)
	$(BIN)/python -m server.verify.admin verify

test: $(STAMP) browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The console in a real browser: Debian's Chromium driven by Playwright (tests/console).
test-console: $(STAMP) browser
	$(BIN)/python -m pytest tests/console $(PYTEST_ARGS)

# Chromium for the console's browser tests: Debian's package, installed when missing (as root).
# Playwright drives it and never downloads a browser. Without it the browser tests fail, saying so.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium for the console's browser tests (apt-get install chromium)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "make browser: Chromium is missing and cannot be installed here (needs root and apt-get);" \
				"run: sudo apt-get install -y chromium. The console's browser tests fail without it." >&2; \
		fi; }

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# Faults made to happen: database loss, terminated sessions, pool exhaustion,
# SIGTERM, crashes, cancellation, slow consumers and hostile bytes.
test-faults: $(STAMP)
	$(BIN)/python -m pytest tests/faults $(PYTEST_ARGS)

# The client library, the `wallet` command, the examples and the grpcurl docs, end to end.
test-clients: $(STAMP)
	$(BIN)/python -m pytest tests/clients $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

buf-lint: $(STAMP)
	$(BIN)/buf lint
	$(BIN)/buf build -o /dev/null

# Regenerates the Python messages, gRPC stubs and their mypy stubs. The
# __init__.py files make `wallet.v1` a regular package once installed.
generate: $(STAMP)
	rm -rf generated/wallet
	mkdir -p generated/wallet/v1
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I protos \
		--python_out=generated --grpc_python_out=generated \
		--mypy_out=generated --mypy_grpc_out=generated $(PROTO)
	touch generated/wallet/__init__.py generated/wallet/v1/__init__.py generated/wallet/v1/py.typed

check-generated: generate
	git diff --exit-code -- generated
	@test -z "$$(git status --porcelain -- generated)" || (echo "generated/ has untracked files" && exit 1)

# Benchmarks: BENCH_ARGS passes options to `python -m bench` (see `python -m bench --help`).
BENCH_ARGS ?=

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench --mode full $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --mode quick $(BENCH_ARGS)

bench-profile: $(BENCH_STAMP)
	$(BIN)/python -m bench --mode profile $(BENCH_ARGS)

# High availability (docs/high-availability.md). Patroni gets a virtualenv of its own, of a
# system Python: as root it runs PostgreSQL as `nobody`, who must be able to run that Python.
HA_VENV := $(VENV)/ha
HA_STAMP := $(VENV)/.installed-ha
HA_PYTHON ?= /usr/bin/python3

$(HA_STAMP): $(STAMP) ha/requirements.txt
	ha/install-system-packages.sh
	@test -x $(HA_VENV)/bin/python || $(HA_PYTHON) -m venv --without-pip $(HA_VENV)
	$(BIN)/python -m pip --python $(HA_VENV)/bin/python install --quiet -r ha/requirements.txt
	@touch $(HA_STAMP)

run-ha: $(HA_STAMP)
	$(BIN)/python -m ha run

ha-status: $(STAMP)
	@$(BIN)/python -m ha status

# Not part of `make test`: it needs the HA setup and takes a few minutes.
test-failover: $(HA_STAMP)
	$(BIN)/python -m pytest tests/failover -m failover $(PYTEST_ARGS)

# Known vulnerabilities in the installed dependencies (the project itself is skipped: it is not on PyPI).
audit: $(STAMP)
	$(BIN)/pip-audit --skip-editable --progress-spinner off

ci: lint typecheck buf-lint check-generated audit test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
