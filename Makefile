# make run: set up .venv, prepare the embedded default, start the app on http://localhost:8501
# make test: the same set-up plus test tools, then the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: run test prepare lint bench clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, from the CPU wheel: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

prepare: $(VENV)/.runtime
	$(BIN)/python -m advisor prepare

run: prepare
	$(BIN)/streamlit run app.py --server.port 8501 --server.headless true

test: $(VENV)/.dev prepare
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench: prepare
	$(BIN)/python -m eval bench data --partners 5000 --months 24
	$(BIN)/python -m eval retrieval

clean-data:
	rm -rf data
