"""mlmeta publish on Kubeflow Model Registry, as whole processes, with the official client's reads as
the baseline in the same run.

    .venv/bin/python bench/bench_kubeflow.py [--sizes 1,200] [--latency-ms 20] [--runs 3] [--json FILE]

Setup: one training run logged through the registry's MLflow plugin into the KF MR stand-in
(``examples/kubeflow/train.py``), then N registered models, each with a version pointing at that
logged model and marked ``stage = production`` (their specs say so), and a fresh OpenMetadata
sandbox process adding the latency to every request. Measured for each N, each a separate
process: the first publish, the unchanged re-publish (median of ``--runs``), with the registry's
and the catalog's request counts; and the baseline: what a team's script does with the official
client (``model-registry``) to merely find each model's Production version - no catalog at all.

Prints a table and, with --json, writes the rows. Compare figures from one run only.
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
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from bench_publish import SPEC, publish, run_command, table  # noqa: E402  (its 'mlflow': the registry's requests)

KUBEFLOW = """
registry: kubeflow
kubeflow:
  production: {property: stage, value: production}
"""
BASELINE = """
import sys
from model_registry import ModelRegistry
host, port, names = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
client = ModelRegistry(host, port, author="bench", is_secure=False)
for name in names:  # the Production version of each, as a script finds it with the client
    found = [v for v in client.get_model_versions(name)
             if (v.custom_properties or {}).get("stage") == "production"]
    assert len(found) == 1, name
"""


def train(registry_url: str, work: Path) -> str:
    """The logged model's URI (models:/<id>) of one plugin-logged training run."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, str(REPO / "examples" / "kubeflow" / "train.py"), registry_url,
                           "--version", "v1"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    import requests

    version = requests.get(f"{registry_url}/api/model_registry/v1/model_versions", timeout=30).json()["items"][0]
    [artifact] = requests.get(f"{registry_url}/api/model_registry/v1/model_versions/{version['id']}/artifacts",
                              timeout=30).json()["items"]
    return artifact["uri"]


def register(registry_url: str, names: list[str], model_uri: str) -> None:
    import requests

    base = registry_url + "/api/model_registry/v1"
    with requests.Session() as session:
        for name in names:
            model = session.post(base + "/registered_models", json={"name": name}, timeout=30).json()
            version = session.post(base + "/model_versions", timeout=30, json={
                "name": "v1", "registeredModelId": model["id"], "author": "bench",
                "customProperties": {"stage": {"metadataType": "MetadataStringValue", "string_value": "production"}}})
            session.post(f"{base}/model_versions/{version.json()['id']}/artifacts", timeout=30, json={
                "artifactType": "model-artifact", "name": name, "uri": model_uri, "modelFormatName": "sklearn",
                "modelFormatVersion": "1"}).raise_for_status()


def make_project(folder: Path, names: list[str]) -> Path:
    (folder / "model_specs").mkdir(parents=True, exist_ok=True)
    (folder / "mlmeta.toml").write_text('registry = "kubeflow"\nservice = "mlflow_models"\n', encoding="utf-8")
    for name in names:
        (folder / "model_specs" / f"{name}.yaml").write_text(SPEC.format(name=name) + KUBEFLOW, encoding="utf-8")
    return folder


def measure(size: int, names: list[str], work: Path, registry, latency: float, runs: int) -> dict:
    from mlmeta.demo.services import SandboxProcess

    project = make_project(work / f"project_{size}", names[:size])
    row: dict = {"specs": size}
    with SandboxProcess(work / f"sandbox_{size}", extra_args=["--latency-ms", str(latency)]) as sandbox:
        env = {**os.environ, "OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
               "MODEL_REGISTRY_URL": registry.url}
        first = publish(project, env, sandbox)
        assert first["summary"]["created"] == size, first["summary"]
        row.update(first_s=first["s"], first_mb=first["mb"], first_kfmr=first["mlflow"])
        again = [publish(project, env, sandbox) for _ in range(runs)]
        assert all(a["summary"]["unchanged"] == size for a in again), [a["summary"] for a in again]
        row.update(again_s=statistics.median(a["s"] for a in again), again_mb=max(a["mb"] for a in again),
                   again_kfmr=again[0]["mlflow"], again_om=again[0]["om"])
    baseline = [run_command([sys.executable, "-c", BASELINE, "http://127.0.0.1", str(registry.port),
                             ",".join(names[:size])], work, dict(os.environ))[0] for _ in range(runs)]
    row["baseline_s"] = statistics.median(baseline)
    return row


COLUMNS = [("specs", "specs", "{:d}"), ("first publish", "first_s", "{:.2f} s"), ("KF MR req", "first_kfmr", "{:d}"),
           ("unchanged", "again_s", "{:.2f} s"), ("MB", "again_mb", "{:.0f}"), ("KF MR req", "again_kfmr", "{:d}"),
           ("OM req", "again_om", "{:d}"), ("client: find Production only", "baseline_s", "{:.2f} s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,200")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    warnings.simplefilter("ignore")
    from mlmeta.standins.kubeflow import StandIn

    with tempfile.TemporaryDirectory() as tmp, StandIn() as registry:
        work = Path(tmp)
        names = [f"kf_bench_{i:04d}" for i in range(max(sizes))]
        started = time.perf_counter()
        register(registry.url, names, train(registry.url, work))
        print(f"trained and registered {len(names)} models in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        rows = [measure(size, names, work, registry, options.latency_ms, options.runs) for size in sizes]
    machine = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, sandbox latency {options.latency_ms:g} ms"
    print(f"mlmeta publish on Kubeflow Model Registry, whole processes ({machine}):\n")
    print(table(rows, COLUMNS))
    if options.json:
        options.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
