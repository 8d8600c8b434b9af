#!/usr/bin/env bash
# Install mlmeta for the composite action, constrained like every other install of the project.
#   MLMETA_REQUIREMENT  a pip requirement ("mlmeta==0.1.0"); empty: the release of the action's tag
#   MLMETA_ACTION_REF   the ref the workflow pinned the action to (uses: your-org/mlmeta@v0.1.0)
#   ACTION_PATH         where the action (this repository, at that ref) is
# A workflow pinned to a release tag (v0.1.0) gets that release from PyPI; any other ref (a branch,
# a commit) gets the action's own checkout.
set -euo pipefail
venv="${RUNNER_TEMP:-/tmp}/mlmeta-venv"
python -m venv "$venv"
target="${MLMETA_REQUIREMENT:-}"
if [ -z "$target" ]; then
  if [[ "${MLMETA_ACTION_REF:-}" =~ ^v([0-9]+\.[0-9]+\.[0-9]+([.-]?(a|b|rc|post|dev)[0-9]+)?)$ ]]; then
    target="mlmeta==${BASH_REMATCH[1]}"
  else
    target="$ACTION_PATH"
  fi
fi
echo "installing $target"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$ACTION_PATH/constraints.txt" "$target"
echo "$venv/bin" >> "${GITHUB_PATH:-/dev/null}"
"$venv/bin/mlmeta" --version
