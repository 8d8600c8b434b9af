# The two commands of the README. Each creates .venv and installs what it needs, constrained.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlmeta-installed
# -qq: this machine kind prints a warning per package for its offline mirrors; errors still show
PIP_INSTALL := $(BIN)/python -m pip install -qq --disable-pip-version-check -c constraints.txt

.PHONY: demo test

# mlmeta's main job end to end on the embedded default (local MLflow + the OpenMetadata sandbox);
# KEEP=1 leaves both servers running for the README's walkthrough. The clock starts before the install.
demo:
	@started=$$(date +%s); $(MAKE) --silent --no-print-directory $(STAMP) && \
	MLMETA_DEMO_STARTED=$$started $(BIN)/python -m mlmeta.demo $(if $(KEEP),--keep)

# the whole test suite (real MLflow server, the sandbox, real git repositories)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(STAMP): pyproject.toml constraints.txt
	@echo "==> Installing mlmeta and its development tools into $(VENV) (once; about 2 minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[dev]'
	touch $(STAMP)
