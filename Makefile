# Every target bootstraps what it needs: the virtualenv, hookstream itself, and Apache Kafka's jars
# (fetched once from Maven Central into ~/.cache/hookstream). Downloads are cached under ~/.cache.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench bench-peers chaos clean bootstrap

# The dev configuration delivers to receivers on this machine's loopback too (the SSRF guard refuses
# loopback and private addresses unless allowed); set HOOKSTREAM_DELIVERY_ALLOWED_NETWORKS= to refuse them.
run: export HOOKSTREAM_DELIVERY_ALLOWED_NETWORKS ?= 127.0.0.0/8,::1/128

run: $(STAMP)
	$(BIN)/hookstream kafka fetch
	$(BIN)/hookstream dev

test: $(STAMP)
	$(BIN)/hookstream kafka fetch
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/pytest --durations=30

# The benchmarks of BENCHMARKS.md at its sizes (10M attempts, 1M pending retries, 1M-message backlog: about
# 100 minutes on 2 cores); BENCH_ARGS=--quick for a smoke run of each. B4_DATA=DIR keeps B4's 10M attempts in
# DIR: the first run inserts them, later runs go straight to the queries. B4's store may use chDB's own share of
# memory: the 2 GiB default of HOOKSTREAM_STORE_MAX_MEMORY_BYTES is exceeded near 3M attempts of 100,000-row batches.
QUERY_ARGS = $(if $(BENCH_ARGS),$(BENCH_ARGS),--rows 10000000 --queries 1000 --analytics-runs 3 --batch 100000 --optimize \
	--store-max-memory-bytes 0$(if $(B4_DATA), --data-dir $(B4_DATA)))
RETRY_ARGS = $(if $(BENCH_ARGS),$(BENCH_ARGS),--retries 10000 --pending 1000000)
bench: $(STAMP)
	$(BIN)/hookstream kafka fetch
	$(BIN)/python bench/pipeline.py $(BENCH_ARGS)
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)
	$(BIN)/python bench/accept_cpu.py $(BENCH_ARGS)
	$(BIN)/python bench/query_attempts.py $(QUERY_ARGS)
	$(BIN)/python bench/scheduler_retries.py --mode due $(RETRY_ARGS)
	$(BIN)/python bench/list_latency.py $(BENCH_ARGS)

# Side by side with Hookdeck Outpost v1.1.0 on this machine (issue 17): installs Postgres, Redis and RabbitMQ from
# apt if missing and builds Outpost once into ~/.cache/hookstream (Go module proxy; ~5 min on 2 cores), then runs
# the same client against both at 1 and 10 destinations (about 6 minutes); BENCH_ARGS=--quick for a smoke run (~2 min).
# Debian/Ubuntu as root, not in CI. Outpost's services are stopped again at the end.
bench-peers: $(STAMP)
	$(BIN)/hookstream kafka fetch
	bench/peers/outpost.sh install
	bench/peers/outpost.sh build
	$(BIN)/python bench/peers.py $(BENCH_ARGS)

# The full fault run (issue 9: R1-R4, every role killed ten times; issue 16: R5, the store killed ten times); `make test` runs it once per role.
chaos: $(STAMP)
	$(BIN)/hookstream kafka fetch
	HOOKSTREAM_CHAOS_KILLS=10 $(BIN)/pytest -s tests/chaos

lint: $(STAMP)
	$(BIN)/ruff check services tests bench

format: $(STAMP)
	$(BIN)/ruff format services tests bench
	$(BIN)/ruff check --fix services tests bench

bootstrap: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .hookstream .pytest_cache .ruff_cache
