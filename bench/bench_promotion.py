"""From promotion to published entity: the delay, for ``mlmeta watch`` and ``mlmeta webhook serve``.

    .venv/bin/python bench/bench_promotion.py [--promotions 20] [--interval 5] [--json FILE]

A real MLflow server (allowed to deliver webhooks to 127.0.0.1), the sandbox in its own process, a
project with one spec per registered model. For each mode, ``--promotions`` models are promoted
one after another (``champion`` alias set through MLflow's API); the clock runs from the alias
call returning until the sandbox has the ML model. Both commands run as their own processes.
Targets (issue: the catalog follows promotions): webhook under 2 s; watch under one interval + 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
SECRET = "bench-webhook-secret"


def exists(sandbox, name: str) -> bool:
    request = urllib.request.Request(f"{sandbox.api_url}/v1/mlmodels/name/mlflow_models.{name}",
                                     headers={"Authorization": f"Bearer {sandbox.token()}"})
    try:
        with urllib.request.urlopen(request, timeout=5):
            return True
    except urllib.error.HTTPError:
        return False


def promote_all(client, sandbox, names: list[str], limit: float) -> list[float]:
    delays = []
    for name in names:
        client.set_registered_model_alias(name, "champion", "1")
        promoted = time.perf_counter()
        while not exists(sandbox, name):
            if time.perf_counter() - promoted > limit:
                raise SystemExit(f"{name} was not published within {limit:.0f} s")
            time.sleep(0.02)
        delays.append(time.perf_counter() - promoted)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promotions", type=int, default=20)
    parser.add_argument("--interval", type=float, default=5.0, help="watch's --interval")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    import bench_publish
    from mlflow import MlflowClient

    from mlmeta.demo.services import MlflowServer, SandboxProcess, free_port

    rows = {}
    with tempfile.TemporaryDirectory() as tmp, MlflowServer(Path(tmp) / "mlflow", local_webhooks=True) as mlflow, \
            SandboxProcess(Path(tmp) / "sandbox") as sandbox:
        work = Path(tmp)
        names = {mode: [f"{mode}_{i:02d}" for i in range(options.promotions)] for mode in ("watch", "webhook")}
        logged = bench_publish.log_example_model(mlflow.url)
        client = MlflowClient(mlflow.url)
        for mode, models in names.items():
            for name in models:  # registered, not promoted
                client.create_registered_model(name)
                client.create_model_version(name, source=logged[0], run_id=logged[1], model_id=logged[2])
        project = bench_publish.make_project(work / "project", names["watch"] + names["webhook"])
        env = {**os.environ, "OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
               "MLFLOW_TRACKING_URI": mlflow.url, "MLMETA_WEBHOOK_SECRET": SECRET}

        watch = subprocess.Popen([sys.executable, "-m", "mlmeta", "watch", "--interval", str(options.interval),
                                  "--jitter", "0", "--sink", f"jsonl:{work / 'watch-events.jsonl'}",
                                  *[str(project / "model_specs" / f"{n}.yaml") for n in names["watch"]]],
                                 cwd=project, env=env, stderr=subprocess.DEVNULL)
        try:
            while not (project / ".mlmeta" / "watch-checkpoint.json").exists():
                time.sleep(0.1)
            rows["watch"] = promote_all(client, sandbox, names["watch"], options.interval + 30)
        finally:
            watch.terminate()
            watch.wait(30)

        ready = work / "webhook-ready.json"
        webhook = subprocess.Popen([sys.executable, "-m", "mlmeta", "webhook", "serve", "--port", str(free_port()),
                                    "--ready-file", str(ready), "--sink", f"jsonl:{work / 'webhook-events.jsonl'}"],
                                   cwd=project, env=env, stderr=(work / "webhook.log").open("w"))
        try:
            while not ready.exists():
                time.sleep(0.1)
            client.create_webhook(name="mlmeta-bench", url=json.loads(ready.read_text())["url"],
                                  events=["model_version_alias.created"], secret=SECRET)
            time.sleep(1.5)  # the server's webhook cache (1 s here, 60 s by default) sees the new webhook
            try:
                rows["webhook"] = promote_all(client, sandbox, names["webhook"], 30)
            except SystemExit:  # what the receiver said is the first thing to read
                print((work / "webhook.log").read_text()[-3000:], file=sys.stderr)
                raise
        finally:
            webhook.terminate()
            webhook.wait(30)

    summary = {mode: {"median_s": statistics.median(d), "worst_s": max(d), "promotions": len(d)}
               for mode, d in rows.items()}
    print(f"promotion -> published entity ({options.promotions} promotions each, watch --interval "
          f"{options.interval:g} s):\n")
    print("| mode | median | worst | target |\n| --- | ---: | ---: | --- |")
    targets = {"watch": f"< {options.interval + 2:g} s (interval + 2 s)", "webhook": "< 2 s"}
    for mode, figures in summary.items():
        print(f"| {mode} | {figures['median_s']:.2f} s | {figures['worst_s']:.2f} s | {targets[mode]} |")
    if options.json:
        options.json.write_text(json.dumps({"interval_s": options.interval, "modes": summary,
                                            "delays_s": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
