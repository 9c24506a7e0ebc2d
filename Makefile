# accelsim: `make demo` runs the main job, `make test` runs the whole suite; both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,results,onnx,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/accelsim demo --out out

NOTEBOOKS := $(wildcard notebooks/*.ipynb)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests $(if $(NOTEBOOKS),--nbmake $(NOTEBOOKS))
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -n 2 tests -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache
