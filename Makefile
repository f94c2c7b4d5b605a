# esent.backup developer entry points. `make test` and `make demo` bootstrap
# everything they need (apt packages, a venv from the pinned locks) on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
DEMO_VENV := .venv-demo
APT_PACKAGES := $(shell grep -v '^\#' requirements/apt.txt 2>/dev/null | xargs)

.PHONY: test demo venv demo-venv lint sanity pytest molecule lock generate clean

test:
	@PYTHON="$(PYTHON)" bash tools/stages.sh venv ruff yamllint ansible-lint sanity pytest molecule

venv:
	@PYTHON="$(PYTHON)" bash tools/bootstrap.sh $(VENV) requirements/dev.lock "$(APT_PACKAGES)" editable

demo-venv:
	@PYTHON="$(PYTHON)" bash tools/bootstrap.sh $(DEMO_VENV) requirements/runtime.lock "" editable

demo: demo-venv
	@$(DEMO_VENV)/bin/python -m esesim.demo

lint: venv
	@bash tools/stages.sh ruff yamllint ansible-lint

sanity: venv
	@bash tools/stages.sh sanity

pytest: venv
	@bash tools/stages.sh pytest

molecule: venv
	@bash tools/stages.sh molecule

generate: venv
	@$(VENV)/bin/python tools/generate.py

lock:
	@PYTHON="$(PYTHON)" bash tools/lock.sh

clean:
	rm -rf build .stamps .pytest_cache .ruff_cache .hypothesis
