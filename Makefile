# The two commands of the README. Each creates .venv and installs what it needs, constrained.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlmeta-installed
# -qq: this machine kind prints a warning per package for its offline mirrors; errors still show
PIP_INSTALL := $(BIN)/python -m pip install -qq --disable-pip-version-check -c constraints.txt
# uv (pinned in constraints.txt) installs the same constrained set as pip would, in seconds, not minutes
UV_INSTALL := $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -c constraints.txt

.PHONY: demo test test-fast test-soak browser
# two workers (pytest-xdist), a test file per worker at a time so a module's servers start once: on 2 cores
# the suite mostly waits on servers and subprocesses. WORKERS= runs in one process.
WORKERS ?= -n 2 --dist loadfile
# what the picture tests look at pictures with: Debian's headless chromium, and mermaid from npm
MERMAID_VERSION := 11.17.2
MERMAID_JS := .mlmeta-work/tools/mermaid-$(MERMAID_VERSION)/package/dist/mermaid.min.js

# mlmeta's main job end to end on the embedded default (local MLflow + the OpenMetadata sandbox);
# KEEP=1 leaves both servers running for the walkthrough (docs/getting-started.md). The clock starts before the install.
demo:
	@started=$$(date +%s); $(MAKE) --silent --no-print-directory $(STAMP) && \
	MLMETA_DEMO_STARTED=$$started $(BIN)/python -m mlmeta.demo $(if $(KEEP),--keep)

# the whole test suite, every tier (real MLflow server, the sandbox, Kafka, git, chromium)
test: $(STAMP) browser $(MERMAID_JS)
	MLMETA_MERMAID_JS=$(CURDIR)/$(MERMAID_JS) $(BIN)/python -m pytest $(WORKERS) $(PYTEST_ARGS)

# the unit tier: no server, no SDK, no browser, nothing fetched (tests/unit/, and tests/security/'s unit tests)
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(WORKERS) -m unit tests/unit tests/security $(PYTEST_ARGS)

# the outage tests with the real minutes their issues name (the everyday suite keeps servers down for seconds)
test-soak: $(STAMP)
	MLMETA_SOAK=1 $(BIN)/python -m pytest tests/e2e/triggers/test_restarts.py tests/e2e/triggers/test_kafka_restart.py $(PYTEST_ARGS)

browser:
	@command -v chromium >/dev/null || { echo "==> Installing Debian's chromium (headless, for the picture tests)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }

$(MERMAID_JS):
	@echo "==> Fetching mermaid $(MERMAID_VERSION) from npm (the picture tests render with it)"
	mkdir -p $(dir $(MERMAID_JS))../.. && cd $(dir $(MERMAID_JS))../.. && npm pack --silent mermaid@$(MERMAID_VERSION) >/dev/null && \
	  tar xzf mermaid-$(MERMAID_VERSION).tgz package/dist/mermaid.min.js && rm mermaid-$(MERMAID_VERSION).tgz

$(STAMP): pyproject.toml constraints.txt
	@echo "==> Installing mlmeta and its development tools into $(VENV) (once; under a minute)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) uv
	$(UV_INSTALL) -e '.[dev]'
	touch $(STAMP)
