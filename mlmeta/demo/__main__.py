"""``make demo``: mlmeta's main job end to end on a laptop, with nothing but this repository.

1. start a real MLflow tracking server (sqlite under .mlmeta-work/demo) and the OpenMetadata
   sandbox with the demo catalog;
2. train the example model (examples/train.py), register it and give it the ``champion`` alias
   (examples/promote.py) - that is "reaching Production";
3. run ``mlmeta validate``, ``mlmeta plan`` and ``mlmeta publish`` on model_specs/;
4. show the ML model the catalog now holds, and its lineage;
5. publish again: nothing changes, nothing is written;
6. stop what it started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mlmeta.demo.services import MlflowServer, SandboxProcess

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".mlmeta-work" / "demo"


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m" if sys.stdout.isatty() else f"\n==> {title}", flush=True)


def run(*args: str, env: dict[str, str], check: bool = True) -> None:
    print("$ " + " ".join(args), flush=True)
    subprocess.run(args, env=env, cwd=REPO, check=check)


def api(sandbox: SandboxProcess, path: str) -> dict:
    request = urllib.request.Request(sandbox.api_url + path, headers={"Authorization": f"Bearer {sandbox.token()}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def show_model(sandbox: SandboxProcess, fqn: str) -> None:
    model = api(sandbox, f"/v1/mlmodels/name/{fqn}?fields=owners,tags,domains")
    print(f"{model['fullyQualifiedName']}  version {model['version']}  algorithm {model['algorithm']}  "
          f"updated by {model['updatedBy']}")
    print(f"owners: {', '.join(o['name'] for o in model.get('owners') or [])}   "
          f"tags: {', '.join(t['tagFQN'] for t in model.get('tags') or [])}   "
          f"domains: {', '.join(d['name'] for d in model.get('domains') or [])}")
    for feature in model.get("mlFeatures") or []:
        sources = ", ".join(f"{s['fullyQualifiedName']} ({s.get('dataType', '?')})" for s in feature.get("featureSources") or [])
        print(f"  feature {feature['name']} [{feature['dataType']}] <- {sources}")
    print("  hyperparameters: " + ", ".join(f"{p['name']}={p.get('value')}" for p in model.get("mlHyperParameters") or []))
    print("  description:")
    for line in model["description"].splitlines():
        print(f"    | {line}")
    lineage = api(sandbox, f"/v1/lineage/mlmodel/name/{fqn}?upstreamDepth=1&downstreamDepth=0")
    print("  upstream lineage: " + ", ".join(n["fullyQualifiedName"] for n in lineage["nodes"]))


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    started = time.monotonic()
    step("Starting MLflow (sqlite) and the OpenMetadata sandbox")
    with MlflowServer(WORK / "mlflow") as mlflow_server, SandboxProcess(WORK / "sandbox") as sandbox:
        print(f"MLflow tracking server: {mlflow_server.url}")
        print(f"OpenMetadata sandbox:   {sandbox.api_url}  (tokens in {sandbox.token_file})")
        env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url,
               "OPENMETADATA_HOST": sandbox.url,
               "OPENMETADATA_JWT_TOKEN": sandbox.token("mlmeta-bot"), "PYTHONWARNINGS": "ignore"}
        mlmeta = [sys.executable, "-m", "mlmeta"]

        step("Training the example model and promoting it to Production (alias champion)")
        run(sys.executable, "examples/train.py", env=env)
        run(sys.executable, "examples/promote.py", "delivery_time", "1", env=env)

        step("mlmeta validate (offline, instant)")
        run(*mlmeta, "validate", env=env)
        step("mlmeta plan: what publishing would do")
        run(*mlmeta, "plan", "model_specs", env=env)
        step("mlmeta publish")
        sandbox.stats(reset=True)
        run(*mlmeta, "publish", "model_specs", env=env)
        print(f"OpenMetadata requests: {sandbox.stats()['total']}")

        step("The ML model in the catalog")
        show_model(sandbox, "mlflow_models.delivery_time")

        step("mlmeta publish again: nothing changed, nothing written")
        sandbox.stats(reset=True)
        run(*mlmeta, "publish", "model_specs", env=env)
        writes = {k: v for k, v in sandbox.stats()["requests"].items() if not k.startswith("GET ")}
        print(f"OpenMetadata requests: {sandbox.stats()['total']}, of them writes: {sum(writes.values())}")
        step("Stopping the services")
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s. Work folder: {WORK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
