"""How long mlmeta takes to fail, and what it says, when a server is down, slow or not what it
claims - whole processes, with the default timeout and deadline unless told otherwise.

    .venv/bin/python bench/bench_failures.py [--deadline 60] [--timeout 30] [--json bench-failures.json]

Each row starts the misbehaving peer (mlmeta.demo.peers), runs one mlmeta command against it as a
separate process and records the wall time, the exit code and the first line of the error.
Targets (issue: fail fast): a refused connection, an unresolvable name, TLS against plain HTTP,
a server of the wrong kind: about a second, exit 2; a server that accepts and never answers:
bounded by the deadline (default 60 s), exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

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


def rows(sandbox_url: str, token: str, mlflow_url: str) -> list[tuple[str, list[str], dict, object]]:
    """(situation, command, environment, peer to start) - the peer yields the URL to use."""
    from mlmeta.demo.peers import silent_listener, web_server
    from mlmeta.demo.services import free_port

    om = {"OPENMETADATA_JWT_TOKEN": token, "MLFLOW_TRACKING_URI": mlflow_url}
    closed = f"http://127.0.0.1:{free_port()}"
    return [
        ("OpenMetadata accepts, never answers", ["plan"], om, ("OPENMETADATA_HOST", silent_listener)),
        ("OpenMetadata refused", ["plan"], {**om, "OPENMETADATA_HOST": closed}, None),
        ("OpenMetadata host does not resolve", ["plan"],
         {**om, "OPENMETADATA_HOST": "http://openmetadata.does-not-exist.invalid"}, None),
        ("https:// for a plain-HTTP OpenMetadata", ["plan"],
         {**om, "OPENMETADATA_HOST": sandbox_url.replace("http://", "https://")}, None),
        ("OPENMETADATA_HOST is a web site", ["plan"], om, ("OPENMETADATA_HOST", web_server)),
        ("MLflow accepts, never answers (publish)", ["publish", "--all"],
         {**om, "OPENMETADATA_HOST": sandbox_url}, ("MLFLOW_TRACKING_URI", silent_listener)),
        ("MLflow accepts, never answers (init)", ["init", "--from-mlflow", "churn"], {},
         ("MLFLOW_TRACKING_URI", silent_listener)),
        ("MLflow refused (20 specs)", ["publish", "--all"],
         {**om, "OPENMETADATA_HOST": sandbox_url, "MLFLOW_TRACKING_URI": closed}, None),
        ("MLFLOW_TRACKING_URI is a web site", ["publish", "--all"], {**om, "OPENMETADATA_HOST": sandbox_url},
         ("MLFLOW_TRACKING_URI", web_server)),
        ("MLFLOW_TRACKING_URI=ftp://...", ["init", "--from-mlflow", "churn"],
         {"MLFLOW_TRACKING_URI": "ftp://mlflow.example.com"}, None),
    ]


def run(project: Path, command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlmeta", *command], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)
    first = next((line for line in done.stderr.splitlines() if line.strip()), "")
    return time.perf_counter() - start, done.returncode, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, help="MLMETA_TIMEOUT for every run (default: mlmeta's)")
    parser.add_argument("--deadline", type=float, help="MLMETA_DEADLINE for every run (default: mlmeta's)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    options = parser.parse_args()
    from mlmeta.demo.services import MlflowServer, SandboxProcess

    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENMETADATA_", "MLFLOW_"))}
    for name, value in (("MLMETA_TIMEOUT", options.timeout), ("MLMETA_DEADLINE", options.deadline)):
        if value is not None:
            base[name] = str(value)
    results = []
    with tempfile.TemporaryDirectory() as tmp, SandboxProcess(Path(tmp) / "sandbox") as sandbox, \
            MlflowServer(Path(tmp) / "mlflow") as mlflow_server:
        project = Path(tmp) / "project"
        (project / "model_specs").mkdir(parents=True)
        for i in range(20):
            (project / "model_specs" / f"m{i}.yaml").write_text(SPEC.replace("churn", f"m{i}"), encoding="utf-8")
        for situation, command, env, peer in rows(sandbox.url, sandbox.token(), mlflow_server.url):
            with ExitStack() as stack:
                extra = {}
                if peer is not None:
                    variable, start_peer = peer
                    extra[variable] = stack.enter_context(start_peer() if callable(start_peer) else nullcontext())
                seconds, code, message = run(project, command, {**base, **env, **extra})
            results.append({"situation": situation, "command": " ".join(command[:2]), "seconds": seconds,
                            "exit_code": code, "message": message})
            print(json.dumps(results[-1]), file=sys.stderr)
    print("| situation | command | time | exit | what mlmeta said |\n| --- | --- | ---: | ---: | --- |")
    for row in results:
        print(f"| {row['situation']} | `mlmeta {row['command']}` | {row['seconds']:.1f} s | {row['exit_code']} | "
              f"{row['message'][:110]} |")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
