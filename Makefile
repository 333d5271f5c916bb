# The two README commands: `make demo` and `make test`. Both create .venv when missing and install
# the full toolkit (`asckit[train]`) with the test tools.
PYTHON ?= python3.11
# The index torch is installed from; empty: pip's configured index (PyPI, whose Linux x86-64 torch is the
# CUDA build). PyTorch's CPU build: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and exactly pinned, so no other package picks its build (TORCH_INDEX: where from).
	$(BIN)/python -m pip install -q "torch==2.13.0" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[train,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m asckit.demo

# The linter first, then every test.
test: lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest

# The edit-test loop: the tests not marked slow (no training, subprocesses, kills or DDP).
test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) data runs stores
