# The daily commands. `make run` and `make test` bootstrap .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
# The code `make run` reloads on change: watching the whole checkout would scan .venv's
# thousands of files several times a second.
APPS := persona accounts sync backups ai_scripts

.PHONY: run test test-s3 test-tools lint fmt check schema schema-check contract fleet bench bench-compare

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(BIN)/.installed
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/uvicorn persona.asgi:application --host 0.0.0.0 --port $(PORT) --no-access-log \
		--reload $(foreach app,$(APPS),--reload-dir $(app))

# On the embedded defaults the suite runs in two processes, a test file at a time each
# (pytest-xdist); with DATABASE_URL or REDIS_URL in one, as every test empties the shared
# Redis database.
test: $(BIN)/.installed
	$(BIN)/pytest $(if $(DATABASE_URL)$(REDIS_URL),,-n 2 --dist loadfile)

# The suite with the backups' payloads on S3: a SeaweedFS started for the run on free loopback
# ports (testing/seaweedfs.py) and its BACKUP_S3_* variables set; stopped after.
test-s3: $(BIN)/.installed
	$(BIN)/python -m testing.seaweedfs -- $(BIN)/pytest

# The tools' own tests: the fleet simulation converges, the benchmark's baselines do the
# app's work (those need PostgreSQL: DATABASE_URL), SeaweedFS starts and stops cleanly. CI
# runs them; they take a minute or two.
test-tools: $(BIN)/.installed
	$(BIN)/pytest bench testing

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: $(BIN)/.installed
	DEBUG=1 $(BIN)/python manage.py check
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# The OpenAPI schema, committed as openapi.yaml for the mobile team's client generator.
schema: $(BIN)/.installed
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi.yaml

# Fails when openapi.yaml is not what the code generates (run `make schema` and commit it).
schema-check: $(BIN)/.installed
	DEBUG=1 $(BIN)/python manage.py spectacular --validate --fail-on-warn --file .openapi.generated.yaml
	@if ! diff -u openapi.yaml .openapi.generated.yaml; then \
		rm -f .openapi.generated.yaml; \
		echo "openapi.yaml is out of date with the code: run 'make schema' and commit it" >&2; exit 1; \
	fi
	@rm -f .openapi.generated.yaml

$(BIN)/.contract-installed: $(BIN)/.installed requirements-contract.txt
	$(BIN)/python -m pip install --quiet -r requirements-contract.txt
	@touch $@

# The generated client's journey and schemathesis against a live gunicorn; needs
# DATABASE_URL (PostgreSQL) and REDIS_URL.
contract: $(BIN)/.contract-installed
	$(BIN)/python -m contract.run

# The fleet simulation against a fresh gunicorn of this checkout (PostgreSQL when
# DATABASE_URL is set, else SQLite). FLEET_ARGS="--large" for the big run, "--seed N" to vary.
fleet: $(BIN)/.installed
	$(BIN)/python -m bench.fleet --spawn $(FLEET_ARGS)

# The benchmark suite (bench/run.py): the app against a bare-WSGI floor and the Express peer
# on loopback, the live events (bench/events.py), the backup transfers
# (bench/backup_transfers.py) and the AI relay (bench/relay.py), ~25-35 minutes; BENCH_QUICK=1
# runs one short round. Needs PostgreSQL and Redis (DATABASE_URL / REDIS_URL, default
# 127.0.0.1); installs wrk and the peer's npm packages.
bench: $(BIN)/.installed
	BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) $(BIN)/python -m bench.run

# This checkout's app against another commit's, interleaved (bench/compare.py): how an
# optimisation shows what it buys. BASE=<commit>; BENCH_ONLY and BENCH_QUICK as for bench.
bench-compare: $(BIN)/.installed
	BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) BASE=$(BASE) $(BIN)/python -m bench.compare
