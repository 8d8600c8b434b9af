"""Two projects in git repositories publishing into one service, and what the sandbox holds of their models."""

from __future__ import annotations

import json
from pathlib import Path

import requests

ONE, TWO = "github.com/acme/one", "github.com/acme/two"


def git_project(folder: Path, remote: str | None) -> Path:
    import git

    repo = git.Repo.init(folder)
    if remote:
        repo.create_remote("origin", remote)
    return folder


def run(cli, env, *args) -> tuple[int, dict]:
    result = cli(*args, "--format", "json", env=env)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(result.stdout + result.stderr) from None


def stored(sandbox, name: str) -> dict:
    return requests.get(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}?include=all&fields=extension,"
                        "sourceHash", headers={"Authorization": f"Bearer {sandbox.token('admin')}"}, timeout=10).json()


def writes(sandbox) -> dict[str, int]:
    return {k: v for k, v in sandbox.stats()["requests"].items()
            if k.startswith(("PUT ", "POST ", "PATCH ", "DELETE "))}
