"""``make demo``: mlmeta's main job end to end on a laptop, with nothing but this repository.

1. start a real MLflow tracking server (sqlite under .mlmeta-work/demo) and the OpenMetadata
   sandbox with the demo catalog;
2. train the example models (examples/train.py, and the streaming example's
   examples/streaming/train_bot_detector.py), register them and give them the ``champion`` alias
   (examples/promote.py) - that is "reaching Production";
3. run ``mlmeta setup`` (the provenance custom properties), then ``mlmeta validate``, ``mlmeta
   plan`` and ``mlmeta publish`` on model_specs/ and examples/streaming/;
4. show the ML models the catalog now holds, with their provenance and column-level lineage;
5. publish again: nothing changes, nothing is written;
6. stop what it started - or, with ``--keep`` (``make demo KEEP=1``), leave both servers running
   and say how to use them (the walkthrough in docs/getting-started.md can start from there) and how to stop them
   (``python -m mlmeta.demo --stop``).

MLflow's own chatter (INFO lines, warnings about pickle) goes to log files under the work folder;
the terminal shows mlmeta's story.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
# the demo runs this repository's own scripts (B404)
import subprocess  # nosec B404
import sys
import time
import urllib.request
from pathlib import Path

from mlmeta.demo.services import MlflowServer, SandboxProcess

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".mlmeta-work" / "demo"
KEPT = WORK / "services.json"  # what --keep left running
SPECS = ("model_specs", "examples/streaming")  # the delivery-time model, and the streaming example


def step(title: str) -> None:
    print(f"\n\033[1m==> {title}\033[0m" if sys.stdout.isatty() else f"\n==> {title}", flush=True)


def run(*args: str, env: dict[str, str], log: Path | None = None) -> None:
    """Show and run a command; ``log``: its stderr goes there instead of the terminal."""
    shown = [Path(a).name if a == sys.executable else a for a in args]
    print("$ " + " ".join(shown), flush=True)
    if log is None:
        # this repository's own scripts (B603)
        subprocess.run(args, env=env, cwd=REPO, check=True)  # nosec B603
        return
    with log.open("a", encoding="utf-8") as handle:
        # fixed argv, as above (B603)
        done = subprocess.run(args, env=env, cwd=REPO, stderr=handle)  # nosec B603
    if done.returncode:
        raise SystemExit(f"{shown[-1]} failed with exit code {done.returncode}; see {log}")


def api(sandbox: SandboxProcess, path: str) -> dict:
    request = urllib.request.Request(sandbox.api_url + path, headers={"Authorization": f"Bearer {sandbox.token()}"})
    # http:// of a server the demo started (B310)
    with urllib.request.urlopen(request, timeout=10) as answer:  # nosec B310
        return json.load(answer)


def show_model(sandbox: SandboxProcess, fqn: str) -> None:
    model = api(sandbox, f"/v1/mlmodels/name/{fqn}?fields=owners,tags,domains,extension")
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
    properties = model.get("extension") or {}
    print("  custom properties: " + ", ".join(f"{k}={_shown(v)}" for k, v in sorted(properties.items())))
    lineage = api(sandbox, f"/v1/lineage/mlmodel/name/{fqn}?upstreamDepth=1&downstreamDepth=1")
    names = {n["id"]: n["fullyQualifiedName"] for n in lineage["nodes"]}
    for key, far, arrow in (("upstreamEdges", "fromEntity", "<-"), ("downstreamEdges", "toEntity", "->")):
        for edge in lineage[key]:
            asset, details = names.get(edge[far], "?"), edge.get("lineageDetails") or {}
            mapping = "; ".join(f"{', '.join(_short(c, asset, fqn) for c in m['fromColumns'])} -> "
                                f"{_short(m['toColumn'], asset, fqn)}" for m in details.get("columnsLineage") or [])
            print(f"  lineage {arrow} {asset}" + (f"  (columns: {mapping})" if mapping else ""))
            if details.get("description"):
                print(f"      {details['description']}")


def _short(column: str, asset: str, model: str) -> str:
    return column.removeprefix(asset + ".").removeprefix(model + ".")


def _shown(value: object) -> str:
    if isinstance(value, dict) and "rows" in value:  # a table property: its rows
        return "{" + "; ".join(" | ".join(str(v) for v in row.values()) for row in value["rows"]) + "}"
    return str(value)


def main(keep: bool = False) -> int:
    stop_kept()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    started = float(os.environ.get("MLMETA_DEMO_STARTED") or time.time())  # make demo: the install counts too
    step("Starting MLflow (sqlite) and the OpenMetadata sandbox")
    mlflow_server = MlflowServer(WORK / "mlflow").start()
    sandbox = SandboxProcess(WORK / "sandbox").start()
    try:
        print(f"MLflow tracking server: {mlflow_server.url}  (log: {mlflow_server.log})")
        print(f"OpenMetadata sandbox:   {sandbox.api_url}")
        env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url, "OPENMETADATA_HOST": sandbox.url,
               "OPENMETADATA_JWT_TOKEN_FILE": str(sandbox.bot_token_file), "PYTHONWARNINGS": "ignore",
               "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
        mlmeta = [sys.executable, "-m", "mlmeta"]

        step("Training the example models and promoting them to Production (alias champion)")
        run(sys.executable, "examples/train.py", env=env, log=WORK / "train.log")
        run(sys.executable, "examples/promote.py", "delivery_time", "1", env=env, log=WORK / "train.log")
        run(sys.executable, "examples/streaming/train_bot_detector.py", env=env, log=WORK / "train.log")
        run(sys.executable, "examples/promote.py", "bot_detector", "1", env=env, log=WORK / "train.log")

        step("mlmeta setup: the provenance custom properties of ML models (once per catalog)")
        run(*mlmeta, "setup", env=env)
        step("mlmeta validate (offline, instant)")
        run(*mlmeta, "validate", *SPECS, env=env)
        step("mlmeta plan: what publishing would do")
        run(*mlmeta, "plan", *SPECS, env=env)
        step("mlmeta publish")
        run(*mlmeta, "publish", *SPECS, env=env)

        step("The ML models in the catalog")
        show_model(sandbox, "mlflow_models.delivery_time")
        print()
        show_model(sandbox, "mlflow_models.bot_detector")

        step("mlmeta publish again: nothing changed, nothing written")
        sandbox.stats(reset=True)
        run(*mlmeta, "publish", *SPECS, env=env)
        writes = {k: v for k, v in sandbox.stats()["requests"].items() if not k.startswith("GET ")}
        print(f"of those requests, writes: {sum(writes.values())}")
    except BaseException:
        keep = False
        raise
    finally:
        if keep:
            keep_running(mlflow_server, sandbox)
        else:
            step("Stopping the services")
            sandbox.stop()
            mlflow_server.stop()
    since = "since `make demo` started, installing included" if os.environ.get("MLMETA_DEMO_STARTED") else "in all"
    print(f"\nDemo finished: {time.time() - started:.0f} s {since}. Logs and data: {WORK}")
    return 0


def keep_running(mlflow_server: MlflowServer, sandbox: SandboxProcess) -> None:
    KEPT.write_text(json.dumps({"mlflow": mlflow_server.process.pid, "sandbox": sandbox.process.pid}))
    step("Both servers keep running")
    print("use them from this shell:")
    print(f"  export MLFLOW_TRACKING_URI={mlflow_server.url} OPENMETADATA_HOST={sandbox.url} "
          f"OPENMETADATA_JWT_TOKEN_FILE={sandbox.bot_token_file}")
    python = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else sys.executable
    print(f"stop them: {python} -m mlmeta.demo --stop  (the next make demo does too)")


def stop_kept() -> bool:
    """Stop the servers an earlier ``--keep`` left running (their process groups)."""
    if not KEPT.exists():
        return False
    for pid in json.loads(KEPT.read_text()).values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    KEPT.unlink()
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m mlmeta.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="leave MLflow and the sandbox running afterwards")
    parser.add_argument("--stop", action="store_true", help="stop the servers an earlier --keep left running")
    options = parser.parse_args()
    if options.stop:
        print("stopped the demo's servers" if stop_kept() else "no demo servers were left running")
        sys.exit(0)
    sys.exit(main(keep=options.keep))
