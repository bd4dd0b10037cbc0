# Two commands for a newcomer: `make demo` and `make test`. Each creates .venv when it is
# missing and installs the project into it (uv with --compile-bytecode when available: this
# machine sets PYTHONDONTWRITEBYTECODE=1, so without pre-compiled bytecode every import of
# prefect would recompile; else plain pip).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-llm lint install bench clean

demo: $(STAMP)
	$(BIN)/btk demo

# Prefect state stays inside the checkout; see docs in README (Prefect section).
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# only the real-model lane (also part of `make test`): SmolLM2-135M behind an Ollama-compatible server over
# node-llama-cpp; needs node and npm, downloads ~190 MB into .cache/llm on its first run
test-llm: $(STAMP)
	$(BIN)/python -m pytest -m real_llm $(PYTEST_ARGS)

# ruff, mypy and the import contracts (engine imports no Prefect; flows use public modules only)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then UV=uv; \
	elif $(BIN)/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then UV=$(BIN)/uv; \
	else UV=; fi; \
	if [ -n "$$UV" ]; then \
		$$UV pip install --python $(BIN)/python --compile-bytecode -e '.[dev]'; \
	else \
		$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'; \
	fi
	@# the checkout is installed editable: pre-compile it too (imports never write .pyc here)
	@$(BIN)/python -m compileall -q btk_core flows
	@touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) dump .pytest_cache .cache
