# Two entry points for a fresh machine: `make reproduce` and `make test`.
# Both create (once) and reuse a local virtual environment in .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= smoke
# TORCH=cpu installs PyTorch's CPU-only wheels first (no CUDA: none of the 3+ GB of nvidia-*
# packages); the default takes torch from PyPI as it is (offline-from-PyPI works).
TORCH ?= default
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

.PHONY: reproduce test test-fast render reference-quick lint clean-venv

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11+ not found: install python3.11 (Debian: apt-get install python3 python3-venv)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "$(PYTHON) is older than 3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "venv failed: on Debian/Ubuntu run apt-get install python3-venv"; exit 1; }
	@if [ "$(TORCH)" = cpu ]; then $(BIN)/python -m pip install --disable-pip-version-check -q \
	  --index-url $(TORCH_CPU_INDEX) torch torchvision; fi
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $(STAMP)

## Run every study notebook with the smoke profile (embedded data, no download, CPU minutes).
reproduce: $(STAMP)
	$(BIN)/initlab run --profile $(PROFILE)

# The suite runs on every core (at most 4 workers): its tests are mostly one-thread work and
# subprocesses; files that share a computed fixture stay on one worker (xdist_group).
PYTEST := $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadgroup

## Run the test suite.
test: $(STAMP)
	$(PYTEST)

## The test suite without the slow notebook runs (about 2.5 minutes on 2 cores).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

## Re-render every figure and table from the results store, without training.
render: $(STAMP)
	$(BIN)/initlab render --profile $(PROFILE)

## The shipped quick results (figures/reference/): every study's quick profile (01 and 02 on
## Fashion-MNIST, which Debian packages; runs already stored are loaded, so for the timed
## results start from an empty store), then copied with date, commit, torch and machine.
reference-quick: $(STAMP)
	$(BIN)/initlab run --profile quick 01_warm_start 02_clustered_init -p dataset fashion_mnist
	$(BIN)/initlab run --profile quick 03_agop_nfm_init 04_baselines_transfer 05_parameter_dynamics
	$(BIN)/initlab reference --profile quick

lint: $(STAMP)
	$(BIN)/ruff check lib tests bench notebooks

clean-venv:
	rm -rf $(VENV)
