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

# Debian's Chromium for tests/test_browser.py (a browser downloaded by Playwright does not work here).
# Installs only when it is missing and we are root; otherwise it says so and the browser tests are skipped.
.PHONY: browser-deps
browser-deps:
	@if [ -x /usr/bin/chromium ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser-deps: installing Debian's chromium, chromium-driver and fonts-noto-cjk for the browser tests"; \
		(export DEBIAN_FRONTEND=noninteractive; apt-get update -qq \
			&& apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk) \
		|| echo "browser-deps: apt-get could not install chromium; the browser tests will be skipped."; \
	else \
		echo "browser-deps: /usr/bin/chromium is missing and installing it needs root and apt-get;" \
			"the browser tests will be skipped (apt-get install chromium chromium-driver fonts-noto-cjk)."; \
	fi

test: $(VENV)/.dev prepare browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: prepare
	$(BIN)/python -m eval bench data --partners 5000 --months 24
	$(BIN)/python -m eval retrieval

clean-data:
	rm -rf data
