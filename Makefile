# Set-up and everyday commands. Each target creates or updates the virtual environment it needs,
# so `make demo` and `make test` work on a fresh clone with nothing installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.handmesh-installed
PYTEST_ARGS ?=

.PHONY: venv demo test test-all bench clean-venv

# Reinstall only when the project's requirements change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@

venv: $(STAMP)

# The main job on its embedded default.
demo: venv
	$(BIN)/handmesh-bench backbone --variants t8 s12 sa12

# The default test suite (what CI runs). pytest's "no tests collected" (exit 5) is not a failure.
test: venv
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

# Everything, the slow tests included.
test-all: venv
	@$(BIN)/python -m pytest --runslow $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

clean-venv:
	rm -rf $(VENV)
