"""A reader that goes away (``mlmeta plan | head -1``) is not a failure of the work: every command
finishes and exits with its own code, never 3."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.helpers.files import write
from tests.helpers.publishing import SPEC, entity


def run_closed(args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    """Run mlmeta with a stdout whose reader is gone before the first line."""
    read, write_end = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "mlmeta", *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, **env}, cwd=cwd, timeout=120)
    finally:
        os.close(write_end)


def test_every_command_exits_with_its_works_code_when_stdout_is_closed(env, registry, sandbox, in_tmp):
    name = f"piped_{uuid.uuid4().hex[:8]}"
    write(in_tmp / "model_specs" / f"{name}.yaml", SPEC.format(name=name, registered=name))
    registry.alias(name, registry.register(name))
    commands = [["validate"], ["schema"], ["plan"], ["publish", "--all"], ["publish", "--all", "--format", "json"],
                ["drift"], ["pull"], ["setup", "--dry-run"], ["init", "--from-mlflow", name]]
    for args in commands:
        result = run_closed(args, env, in_tmp)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.returncode == 0, (args, result.returncode, result.stderr)
    assert entity(sandbox, name)["version"] == 0.1  # the publish did its work, unseen
    registry.alias(name, registry.register(name, run=1))
    result = run_closed(["publish", "--all", "--emit-events", "--sink", "-"], env, in_tmp)
    assert entity(sandbox, name)["version"] == 0.2
    # the event stdout could not take waits in the spool, and publish says so (exit 1, as for any sink)
    assert result.returncode == 1 and "stdout was closed by its reader" in result.stderr
