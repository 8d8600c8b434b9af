#!/usr/bin/env bash
# Install mlmeta for the composite action, constrained like every other install of the project.
#   MLMETA_REQUIREMENT  a pip requirement ("mlmeta==0.1.0"); empty: the action's own checkout
#   ACTION_PATH         where the action (this repository, at the ref the workflow pinned) is
set -euo pipefail
venv="${RUNNER_TEMP:-/tmp}/mlmeta-venv"
python -m venv "$venv"
target="${MLMETA_REQUIREMENT:-$ACTION_PATH}"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$ACTION_PATH/constraints.txt" "$target"
echo "$venv/bin" >> "${GITHUB_PATH:-/dev/null}"
"$venv/bin/mlmeta" --version
