"""mlmeta publish as users run it - whole processes - against the sandbox with latency, with the
request pattern of OpenMetadata's ML-model CI/CD demo and the physical floor in the same run.

    .venv/bin/python bench/bench_publish.py [--sizes 1,200,2000] [--latency-ms 20] [--runs 3]
                                            [--baseline-max 200] [--json bench-publish.json]

For each N: N demo-shaped specs (3 features, 4 column sources in 3 tables) in a project folder,
each for its own registered model with a ``champion`` version in a real MLflow server, and a
fresh sandbox process adding the latency to every request. Measured, each as a separate
``mlmeta`` process (Python start, imports, connections - all of it):

* the first publish, then the unchanged re-publish (median of ``--runs``); wall time, peak
  memory (the child's own maximum resident set, from ``wait4``), OpenMetadata requests (the
  sandbox's counters) and MLflow requests (mlmeta's report) per model;
* for N = 1, ``mlmeta validate --online`` too;
* the baseline, for N <= ``--baseline-max``: what the demo's ``mlmodel_cicd.py`` does per model,
  sequentially, through the official SDK (bench/baseline_demo.py), on its own fresh sandbox;
* the floor of an unchanged run: one version handshake, the mlmodel type's custom properties (which
  provenance properties exist is part of the fingerprint), plus one page of models per PAGE_SIZE (the
  page size mlmeta asks for, 250; the server would allow one page) on the OpenMetadata side; the
  MLflow handshake plus one registered-model search per 100 names.

Targets (issue 14): unchanged 1 spec < 1.5 s, unchanged 200 < 3 s, first 200 < 5 s, validate
--online 1 spec < 1.5 s, <= 1.05 OpenMetadata requests per model unchanged at 200, < 150 MB at
200, 2,000 unchanged < 10 s with memory flat. Prints a table and, with --json, writes the rows.
Compare figures from one run only: the machine's other load moves them all.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MLMETA = [sys.executable, "-m", "mlmeta"]
TIME = shutil.which("time", path="/usr/bin:/bin") or "/usr/bin/time"  # GNU time (Debian: package time)
from mlmeta.registry.mlflow import BATCH as NAME_BATCH  # registered models per search  # noqa: E402
from mlmeta.catalog.openmetadata import PAGE_SIZE  # models per list page  # noqa: E402

SPEC = """\
mlmeta: 1
name: {name}
description: Estimates delivery time (benchmark copy {name}).
target: expected_time
features:
  - name: last_update_bucket
    type: categorical
    algorithm: Bucketing
    sources:
      - column: demo_pg.postgres.public.orders.last_update
  - name: restaurant_dimension
    type: numerical
    algorithm: PCA
    sources:
      - {{table: demo_pg.postgres.public.restaurants, column: rating}}
      - {{table: demo_pg.postgres.public.restaurants, column: average_price}}
  - name: is_premium
    type: categorical
    sources:
      - column: demo_pg.postgres.public.users.premium
"""


def log_example_model(tracking_uri: str) -> tuple[str, str, str]:
    import mlflow

    spec = importlib.util.spec_from_file_location("example_train", REPO / "examples" / "train.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("bench")
    model, sample, metrics = example.train(30, 0.1, 3)
    with mlflow.start_run() as run:
        mlflow.log_params({"n_estimators": 30, "learning_rate": 0.1, "max_depth": 3})
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                        signature=mlflow.models.infer_signature(sample, model.predict(sample)))
    return info.model_uri, run.info.run_id, info.model_id


def register(tracking_uri: str, names: list[str], logged: tuple[str, str, str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    source, run_id, model_id = logged

    def one(name: str) -> None:
        client.create_registered_model(name)
        version = client.create_model_version(name, source=source, run_id=run_id, model_id=model_id).version
        client.set_registered_model_alias(name, "champion", version)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


def make_project(folder: Path, names: list[str]) -> Path:
    """A repository-like folder: mlmeta.toml naming the service, one spec per model."""
    (folder / "model_specs").mkdir(parents=True, exist_ok=True)
    (folder / "mlmeta.toml").write_text('service = "mlflow_models"\n', encoding="utf-8")
    for name in names:
        (folder / "model_specs" / f"{name}.yaml").write_text(SPEC.format(name=name), encoding="utf-8")
    return folder


def run_command(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak resident MB of that process alone, stdout) of one whole command.

    The peak comes from GNU time, which forks the command from its own small process: a child
    forked from this (large) benchmark process would carry our resident set in its ru_maxrss."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M", "-o", rss.name, *args], cwd=cwd, env=env, capture_output=True,
                              text=True)
        elapsed = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"{' '.join(map(str, args[2:]))} failed: {done.stderr[-2000:]}{done.stdout[-2000:]}")
        return elapsed, int(rss.read().split()[-1]) / 1024, done.stdout


def publish(project: Path, env: dict[str, str], sandbox) -> dict:
    sandbox.stats(reset=True)
    seconds, peak, out = run_command([*MLMETA, "publish", "--all", "--format", "json"], project, env)
    summary = json.loads(out)["summary"]
    return {"s": seconds, "mb": peak, "om": sandbox.stats()["total"], "mlflow": summary["mlflow_requests"],
            "summary": summary}


def measure(size: int, names: list[str], work: Path, tracking_uri: str, latency: float, runs: int,
            baseline: bool) -> dict:
    from mlmeta.demo.services import SandboxProcess

    project = make_project(work / f"project_{size}", names[:size])
    faults = ["--latency-ms", str(latency)]
    row: dict = {"specs": size}
    with SandboxProcess(work / f"sandbox_{size}", extra_args=faults) as sandbox:
        env = {**os.environ, "OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
               "MLFLOW_TRACKING_URI": tracking_uri}
        first = publish(project, env, sandbox)
        assert first["summary"]["created"] == size, first["summary"]
        row.update(first_s=first["s"], first_mb=first["mb"], first_om_per_model=first["om"] / size,
                   first_mlflow=first["mlflow"])
        again = [publish(project, env, sandbox) for _ in range(runs)]
        assert all(a["summary"]["unchanged"] == size for a in again), [a["summary"] for a in again]
        row.update(again_s=statistics.median(a["s"] for a in again), again_mb=max(a["mb"] for a in again),
                   again_om=again[0]["om"], again_om_per_model=again[0]["om"] / size, again_mlflow=again[0]["mlflow"],
                   floor_om=2 + math.ceil(size / PAGE_SIZE), floor_mlflow=1 + math.ceil(size / NAME_BATCH))
        if size == 1:
            online = [run_command([*MLMETA, "validate", "--online"], project, env)[0] for _ in range(runs)]
            row["validate_online_s"] = statistics.median(online)
    if baseline:
        row.update(baseline_of(project, work, size, faults))
    return row


def baseline_of(project: Path, work: Path, size: int, faults: list[str]) -> dict:
    from mlmeta.demo.services import SandboxProcess
    from mlmeta.standins.openmetadata import sdk_client

    sys.path.insert(0, str(REPO / "bench"))
    import baseline_demo

    paths = sorted((project / "model_specs").glob("*.yaml"))
    with SandboxProcess(work / f"baseline_{size}", extra_args=faults) as sandbox:
        start = time.perf_counter()  # the client's own version check counts, as mlmeta's handshake does
        baseline_demo.publish_all(sdk_client(sandbox.api_url, sandbox.token()), paths)
        return {"baseline_s": time.perf_counter() - start, "baseline_om_per_model": sandbox.stats()["total"] / size}


COLUMNS = [("specs", "specs", "{:d}"), ("first publish", "first_s", "{:.2f} s"), ("MB", "first_mb", "{:.0f}"),
           ("OM req/model", "first_om_per_model", "{:.2f}"), ("unchanged", "again_s", "{:.2f} s"),
           ("MB", "again_mb", "{:.0f}"), ("OM req/model", "again_om_per_model", "{:.3f}"),
           ("OM floor", "floor_om", "{:d}"), ("MLflow req", "again_mlflow", "{:d}"),
           ("MLflow floor", "floor_mlflow", "{:d}"), ("demo baseline", "baseline_s", "{:.2f} s"),
           ("demo req/model", "baseline_om_per_model", "{:.2f}"), ("validate --online", "validate_online_s", "{:.2f} s")]


def table(rows: list[dict], columns: list[tuple[str, str, str]] = COLUMNS) -> str:
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |",
             "| " + " | ".join("---:" for _ in columns) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) if key in row else "-" for _, key, fmt in columns)
                     + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,200,2000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3, help="unchanged re-publishes per size (median)")
    parser.add_argument("--baseline-max", type=int, default=200, help="run the demo baseline up to this size")
    parser.add_argument("--mlflow-workers", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    warnings.simplefilter("ignore")
    from mlmeta.demo.services import MlflowServer

    with tempfile.TemporaryDirectory() as tmp, MlflowServer(Path(tmp) / "mlflow",
                                                             workers=options.mlflow_workers) as mlflow_server:
        work = Path(tmp)
        names = [f"bench_{i:04d}" for i in range(max(sizes))]
        started = time.perf_counter()
        register(mlflow_server.url, names, log_example_model(mlflow_server.url))
        print(f"registered {len(names)} models in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        rows = []
        for size in sizes:
            rows.append(measure(size, names, work, mlflow_server.url, options.latency_ms, options.runs,
                                baseline=size <= options.baseline_max))
            print(json.dumps(rows[-1]), file=sys.stderr)
    machine = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, sandbox latency {options.latency_ms:g} ms"
    print(f"mlmeta publish, whole processes ({machine}):\n")
    print(table(rows))
    if options.json:
        options.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
