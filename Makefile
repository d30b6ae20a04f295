# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench fuzz install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Editable install: the app finds models/ and resources/ in this checkout.
$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@ $(VENV)/.installed-app

install: $(VENV)/.installed-app
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/python main.py

test: install-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# Speed and memory against the machine's matmul peak and the classical peers (a few minutes).
bench: install
	$(BIN)/dsepconv bench --json bench.json

# The fuzz tests (clip loaders, model headers, image headers) with a long budget
# (make test runs 25 cases per kind).
fuzz: install-test
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(BIN)/python -m pytest -s -q tests/test_fuzz_loaders.py \
		tests/test_fuzz_model_header.py tests/test_fuzz_image_header.py

$(VENV)/.installed-lint: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test,lint]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-app

# ruff, and the layer rule (import-linter contracts in pyproject.toml; README "Layout").
lint: $(VENV)/.installed-lint
	$(BIN)/ruff check dsepconv_gui tests experiments main.py
	$(BIN)/ruff format --check dsepconv_gui tests experiments main.py
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) out .pytest_cache
