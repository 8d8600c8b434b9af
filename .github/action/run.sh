#!/usr/bin/env bash
# Build the mlmeta command line from the action's inputs (passed as environment variables, never
# pasted into the script: no input can inject shell) and run it with GitHub annotations.
#   MLMETA_COMMAND        validate | plan | publish | drift
#   MLMETA_PATHS          spec files/folders, space or newline separated
#   MLMETA_CHANGED_SINCE  git ref
#   MLMETA_ALL            "true" for publish --all
#   MLMETA_REGISTERED_MODEL  only the specs of this registered model
#   MLMETA_ARGS           further arguments, space separated (no shell quoting is interpreted)
set -euo pipefail

case "${MLMETA_COMMAND:-validate}" in
  validate|plan|publish|drift) ;;
  *) echo "::error title=mlmeta::unknown command '${MLMETA_COMMAND}': use validate, plan, publish or drift"; exit 2 ;;
esac

args=("${MLMETA_COMMAND:-validate}" --format github)
if [ -n "${MLMETA_CHANGED_SINCE:-}" ]; then
  args+=(--changed-since "$MLMETA_CHANGED_SINCE")
fi
if [ "${MLMETA_ALL:-false}" = "true" ]; then
  args+=(--all)
fi
if [ -n "${MLMETA_REGISTERED_MODEL:-}" ]; then
  args+=(--registered-model "$MLMETA_REGISTERED_MODEL")
fi
read -r -a extra <<< "$(printf '%s' "${MLMETA_ARGS:-}" | tr '\n' ' ')" || true
read -r -a paths <<< "$(printf '%s' "${MLMETA_PATHS:-}" | tr '\n' ' ')" || true

exec mlmeta "${args[@]}" ${extra[@]+"${extra[@]}"} ${paths[@]+"${paths[@]}"}
