# octopus_ros developer entry points. Everything runs from the venv that `make setup` creates.
#   make setup         Debian packages, .venv, Python packages, interfaces, base weights (idempotent)
#   make test          setup, then the whole test suite
#   make demo          setup, then scripts/demo.sh
#   make colcon-check  setup, then only the colcon build test (the ROS user's path)
#   make clean         remove build outputs (keeps .venv and .cache)
# Override the venv with VENV=/path (also honoured by scripts/setup.sh), pytest flags with
# PYTEST_ARGS='-x -k name'.

SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=
export VENV

.PHONY: setup test demo colcon-check clean

setup:
	bash scripts/setup.sh

# ROS isolation (ROS_DOMAIN_ID per session, ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) is set by
# test/conftest.py. Any non-zero pytest exit fails the target, including 5 (no tests collected).
test: setup
	$(PYTHON) -m pytest -q --durations=10 test $(PYTEST_ARGS)

demo: setup
	@if [ ! -f scripts/demo.sh ]; then echo "make demo: scripts/demo.sh does not exist" >&2; exit 1; fi
	bash scripts/demo.sh

colcon-check: setup
	$(PYTHON) -m pytest -q -s test/test_colcon_build.py $(PYTEST_ARGS)

clean:
	rm -rf build install log .pytest_cache .hypothesis
	find octopus_ros test -name __pycache__ -type d -prune -exec rm -rf {} +
