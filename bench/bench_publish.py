"""mlmeta publish vs. OpenMetadata's ML-model CI/CD demo, against the sandbox with latency.

    .venv/bin/python bench/bench_publish.py [--sizes 1,50,200] [--latency-ms 20] [--concurrency 8]

For each N: N demo-shaped specs (3 features, 4 column sources in 3 tables), each for its own
registered model in a real MLflow server with a `champion` version. Measured per N, on a fresh
sandbox that adds the latency to every request:

* mlmeta first publish and unchanged re-publish (in-process: the SDK is imported once before the
  clock starts), OpenMetadata requests per model from the sandbox's counters;
* the baseline: what the demo's `mlmodel_cicd.py` does per model, sequentially, through the same
  SDK - a `get_by_name(Table)` per source, the service look-up, `create_or_update`,
  `add_mlmodel_lineage` (see bench/baseline_demo.py);
* for the largest N, the unchanged re-publish as a whole `mlmeta publish` process too.

Targets (issue 4): first publish <= 6 requests per model, unchanged <= 3; at 200 specs >= 20x
faster than the baseline; unchanged re-publish of 200 specs < 3 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPEC = """\
mlmeta: 1
name: {name}
service: mlflow_models
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


def write_specs(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        path = folder / f"{name}.yaml"
        path.write_text(SPEC.format(name=name), encoding="utf-8")
        paths.append(path)
    return paths


def mlmeta_publish(paths: list[Path], api_host: str, token: str, tracking_uri: str, concurrency: int):
    from mlmeta.config import load_settings
    from mlmeta.publish import Options, execute

    settings = load_settings({"openmetadata_host": api_host, "mlflow_tracking_uri": tracking_uri,
                              "concurrency": concurrency}, environ={"OPENMETADATA_JWT_TOKEN": token})
    start = time.perf_counter()
    report = execute(paths, settings, Options())
    elapsed = time.perf_counter() - start
    if report.counts["failed"]:
        raise SystemExit(f"publish failed: {[r.message for r in report.results if r.status == 'failed']}")
    return elapsed, report.counts


def measure(size: int, names: list[str], work: Path, tracking_uri: str, latency: float, concurrency: int,
            baseline: bool, whole_process: bool) -> dict:
    """One row; the sandbox runs in its own process, as a real server would (no shared GIL)."""
    from mlmeta.demo.services import SandboxProcess
    from mlmeta.sandbox import sdk_client

    sys.path.insert(0, str(REPO / "bench"))
    import baseline_demo

    paths = write_specs(work / f"specs_{size}", names[:size])
    row: dict = {"specs": size}
    faults = ["--latency-ms", str(latency)]
    with SandboxProcess(work / f"sandbox_{size}", extra_args=faults) as sandbox:
        token = sandbox.token()
        elapsed, counts = mlmeta_publish(paths, sandbox.url, token, tracking_uri, concurrency)
        assert counts["created"] == size, counts
        row["first_s"], row["first_requests_per_model"] = elapsed, sandbox.stats(reset=True)["total"] / size
        elapsed, counts = mlmeta_publish(paths, sandbox.url, token, tracking_uri, concurrency)
        assert counts["unchanged"] == size, counts
        row["again_s"], row["again_requests_per_model"] = elapsed, sandbox.stats()["total"] / size
        if whole_process:
            env = {**os.environ, "OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": token,
                   "MLFLOW_TRACKING_URI": tracking_uri, "PYTHONWARNINGS": "ignore"}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mlmeta", "publish", "--format", "json", "--concurrency",
                            str(concurrency), *map(str, paths)], env=env, check=True, capture_output=True)
            row["again_process_s"] = time.perf_counter() - start
    if baseline:
        with SandboxProcess(work / f"baseline_{size}", extra_args=faults) as sandbox:
            start = time.perf_counter()  # like mlmeta's: the client's version check counts
            baseline_demo.publish_all(sdk_client(sandbox.api_url, sandbox.token()), paths)
            row["baseline_s"] = time.perf_counter() - start
            row["baseline_requests_per_model"] = sandbox.stats()["total"] / size
            row["speedup"] = row["baseline_s"] / row["first_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,50,200")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--mlflow-workers", type=int, default=4,
                        help="workers of the MLflow server (first publishes read 4 things per version from it)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    warnings.simplefilter("ignore")
    from mlmeta.demo.services import MlflowServer
    from mlmeta.sandbox.server import sdk_models

    sdk_models()  # import the SDK before any clock starts (mlmeta's in-process runs)
    with tempfile.TemporaryDirectory() as tmp, MlflowServer(Path(tmp) / "mlflow",
                                                                 workers=options.mlflow_workers) as mlflow_server:
        work = Path(tmp)
        names = [f"bench_{i:03d}" for i in range(max(sizes))]
        register(mlflow_server.url, names, log_example_model(mlflow_server.url))
        rows = [measure(size, names, work, mlflow_server.url, options.latency_ms, options.concurrency,
                        not options.no_baseline, size == max(sizes)) for size in sizes]
    if options.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"latency {options.latency_ms:.0f} ms per OpenMetadata request, concurrency {options.concurrency}, "
          f"MLflow server with {options.mlflow_workers} worker(s)")
    print(f"{'specs':>5} {'first publish':>15} {'req/model':>9} {'re-publish':>11} {'req/model':>9} "
          f"{'baseline':>10} {'req/model':>9} {'speed-up':>8}")
    for r in rows:
        print(f"{r['specs']:>5} {r['first_s']:>14.2f}s {r['first_requests_per_model']:>9.2f} {r['again_s']:>10.2f}s "
              f"{r['again_requests_per_model']:>9.2f} {r.get('baseline_s', float('nan')):>9.2f}s "
              f"{r.get('baseline_requests_per_model', float('nan')):>9.2f} {r.get('speedup', float('nan')):>7.1f}x")
    last = rows[-1]
    if "again_process_s" in last:
        print(f"unchanged re-publish of {last['specs']} specs as a whole process: {last['again_process_s']:.2f} s")


if __name__ == "__main__":
    main()
