"""The Kubeflow example end to end, on local stand-ins: train, mark Production, publish, follow.

    python examples/kubeflow/run_example.py [--work DIR] [--format json]

1. starts the Kubeflow Model Registry stand-in (``mlmeta.standins.kubeflow``) and the OpenMetadata
   sandbox, both on 127.0.0.1 and free ports;
2. trains version v1 through the registry's MLflow plugin, registers it and sets its custom
   property ``stage = production`` (``train.py``);
3. ``mlmeta publish --all --create-service``: the model is created in the catalog, with its
   features, lineage, hyperparameters and metrics from the run the plugin stored;
4. publishes again: nothing is written;
5. ``mlmeta watch --once`` records what is in Production; v2 is trained and marked; the next
   ``watch --once`` publishes it and emits one promotion event.

Everything runs in a temporary folder (``--work`` keeps it). Exit 0 when each step did what it
should; ``--format json`` prints what happened as one JSON document (the test reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITES = ("PUT ", "POST ", "PATCH ", "DELETE ")


def mlmeta(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlmeta", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def train(version: str, trees: int, registry_url: str, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, str(HERE / "train.py"), registry_url, "--version", version,
                           "--n-estimators", str(trees), "--production"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"train.py {version} failed:\n{done.stderr[-3000:]}")
    print(f"trained {version}: {done.stdout.strip().splitlines()[0]}", file=sys.stderr)


def writes(sandbox) -> int:
    return sum(n for key, n in sandbox.stats()["requests"].items() if key.startswith(WRITES))


def run(work: Path) -> dict:
    from mlmeta.standins.kubeflow import StandIn
    from mlmeta.standins.openmetadata import Sandbox

    project = work / "project"
    shutil.copytree(HERE, project, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    repo = str(HERE.parents[1])
    with StandIn() as registry, Sandbox() as catalog:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
               "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore", "MODEL_REGISTRY_URL": registry.url,
               "OPENMETADATA_HOST": catalog.url, "OPENMETADATA_JWT_TOKEN": catalog.token("mlmeta-bot")}
        env.pop("MLFLOW_TRACKING_URI", None)
        train("v1", 50, registry.url, work, env)
        first = mlmeta("publish", "--all", "--create-service", "--format", "json", cwd=project, env=env)
        before = writes(catalog)
        again = mlmeta("publish", "--all", "--format", "json", cwd=project, env=env)
        rerun_writes = writes(catalog) - before
        baseline = mlmeta("watch", "--once", "--sink", "jsonl:events.jsonl", cwd=project, env=env)
        train("v2", 80, registry.url, work, env)
        followed = mlmeta("watch", "--once", "--sink", "jsonl:events.jsonl", cwd=project, env=env)
        events_file = project / "events.jsonl"
        events = [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []
        entity = _entity(catalog)
    return {"publish": _json(first), "republish": _json(again), "republish_writes": rerun_writes,
            "watch_baseline_exit": baseline.returncode, "watch_exit": followed.returncode,
            "watch_stderr": followed.stderr, "events": events, "entity": entity,
            "errors": [p.stderr for p in (first, again, baseline, followed) if p.returncode]}


def _json(done: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {"exit": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def _entity(catalog) -> dict:
    import requests

    answer = requests.get(f"{catalog.api_url}/v1/mlmodels/name/kubeflow_models.delivery_time_kf",
                          params={"fields": "mlFeatures,mlHyperParameters,sourceUrl,description"},
                          headers={"Authorization": f"Bearer {catalog.token('admin')}"}, timeout=30)
    return answer.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="keep the work here (default: a temporary folder)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    options = parser.parse_args()
    if options.work:
        options.work.mkdir(parents=True, exist_ok=True)
        result = run(options.work.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="mlmeta-kubeflow-") as folder:
            result = run(Path(folder))
    ok = (not result["errors"] and result["republish_writes"] == 0 and len(result["events"]) == 1
          and result["publish"].get("summary", {}).get("created") == 1)
    if options.format == "json":
        print(json.dumps(result, indent=2))
    else:
        summary = result["publish"].get("summary", {})
        print(f"publish: {summary}; again: {result['republish'].get('summary')}, "
              f"{result['republish_writes']} writes")
        for event in result["events"]:
            data = event["data"]
            print(f"event: {data['name']} {data['version']} ({data['promotion']['recognisedBy']} "
                  f"{data['promotion']['marker']}) from {data['registry']} -> {data['catalog'][0]['action']}")
        for error in result["errors"]:
            print(error, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
