# Two commands on a fresh machine: `make ask` (install, then answer the Baqeri question from the
# bundled corpus) and `make test` (install, then run the test suite). Both install into .venv once.
# `make lint` runs the checks CI runs before the tests: ruff (lint and format) and mypy.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch; elsewhere, point TORCH_INDEX_URL at https://download.pytorch.org/whl/cpu.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
QUESTION ?= What did Baqeri propose?

.PHONY: install ask test lint
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml docker/install-deps.sh
	$(PYTHON) -m venv $(VENV)
	TORCH_SPEC="$(TORCH_SPEC)" TORCH_INDEX_URL="$(TORCH_INDEX_URL)" PYTHON=$(VENV)/bin/python \
		sh docker/install-deps.sh pyproject.toml test
	$(VENV)/bin/python -m pip install --no-deps -e .
	touch $@

ask: install
	$(VENV)/bin/byline ask "$(QUESTION)"

test: install
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
