# The two commands: `make demo` and `make test`. Both do their own set-up.
VENV   ?= .venv
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(VENV)/bin/mimamori demo

test:
	@bash scripts/setup.sh --test
	@$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: setup
	@$(VENV)/bin/python -m ruff check . || true

clean:
	@$(VENV)/bin/mimamori services down 2>/dev/null || true
	rm -rf .mimamori
