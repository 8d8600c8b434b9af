"""The failure tests' spec and their CLI run with short timeouts: (result, seconds it took), and the one
error it printed."""

from __future__ import annotations

import time

SPEC = """\
mlmeta: 1
name: churn
service: mlflow_models
features:
  - name: tenure
    type: numerical
    sources:
      - column: demo_pg.postgres.public.users.user_id
"""

FAST = {"MLMETA_TIMEOUT": "1", "MLMETA_DEADLINE": "3"}


def run(cli, *args, **env):
    started = time.monotonic()
    result = cli(*args, env={**FAST, **env})
    return result, time.monotonic() - started


def one_error(result, notice: str = "") -> str:
    """The error line (and its hint): exactly one, no library warnings, no traceback. ``notice``: an
    expected line before it."""
    lines = [line for line in result.stderr.splitlines() if line.strip() and not (notice and notice in line)]
    assert lines and lines[0].startswith("mlmeta "), result.stderr
    assert len(lines) <= 2 and "Traceback" not in result.stderr and "Retrying" not in result.stderr, result.stderr
    return result.stderr
