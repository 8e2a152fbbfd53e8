# Every target bootstraps what it needs: the virtualenv, hookstream itself, and Apache Kafka's jars
# (fetched once from Maven Central into ~/.cache/hookstream). Downloads are cached under ~/.cache.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench chaos clean bootstrap

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
	$(BIN)/pytest

# The benchmarks of BENCHMARKS.md, in full (about 25 minutes on 2 cores); BENCH_ARGS=--quick for a smoke run.
bench: $(STAMP)
	$(BIN)/hookstream kafka fetch
	$(BIN)/python bench/pipeline.py $(BENCH_ARGS)
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)
	$(BIN)/python bench/query_attempts.py $(BENCH_ARGS)
	$(BIN)/python bench/scheduler_retries.py --mode due $(BENCH_ARGS)
	$(BIN)/python bench/scheduler_retries.py --mode rss $(BENCH_ARGS)

# The full fault run (issue 9: R1-R4, every role killed ten times); `make test` runs it once per role.
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
