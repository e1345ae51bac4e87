# Set-up and everyday commands. Each target creates or updates the virtual environment it needs,
# so `make demo` and `make test` work on a fresh clone with nothing installed by hand.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.handmesh-installed
PYTEST_ARGS ?=

.PHONY: venv detector demo lint format test test-all clean-venv

# Reinstall only when the project's requirements change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@

venv: $(STAMP)

# The offline MediaPipe hand-landmarker bundle (~/.cache/handmesh/hand_landmarker.task), built once from the
# mediapipe 0.10.21 wheel that pip fetches from the package index; nothing is downloaded at run time.
detector: venv
	@$(BIN)/python -c "from handmesh.detection.bundle import ensure_hand_landmarker as e; e()"

# The main job on its embedded default: the live demo, headless, on the sample clip shipped with the package and
# the shipped weights; writes outputs/demo.mp4 and prints FPS and per-stage times.
demo: venv detector
	$(BIN)/handmesh-demo --no-display --video handmesh/assets/sample_clip.mp4 --output outputs/demo.mp4

# Formatting and lint (ruff, configured in pyproject.toml): part of the test command. `make format` rewrites.
LINT_PATHS := handmesh fastvit_backbone tests demo
lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: venv
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

# The default test suite (what CI runs): lint, then pytest. pytest's "no tests collected" (exit 5) is not a failure.
test: venv detector lint
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

# Everything, the slow tests included.
test-all: venv detector
	@$(BIN)/python -m pytest --runslow $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

clean-venv:
	rm -rf $(VENV)
