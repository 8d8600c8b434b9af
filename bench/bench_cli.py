"""Start-up and offline-validation speed of the mlmeta command, whole process, as users run it.

    .venv/bin/python bench/bench_cli.py [--specs 200] [--runs 15]

Generates N realistic specs (the repository's delivery_time spec, renamed) in a temporary folder,
then times ``mlmeta --version``, ``mlmeta --help`` and ``mlmeta validate <folder>`` as separate
processes and prints min / median / max. Targets: --version < 0.3 s, validate 200 specs < 1 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MLMETA = [str(Path(sys.executable).parent / "mlmeta")]


def make_specs(folder: Path, count: int) -> None:
    template = (REPO / "model_specs" / "delivery_time.yaml").read_text(encoding="utf-8")
    for i in range(count):
        text = template.replace("name: delivery_time", f"name: delivery_time_{i:03d}")
        (folder / f"model_{i:03d}.yaml").write_text(text, encoding="utf-8")
    shutil.copy(REPO / "mlmeta.schema.json", folder.parent / "mlmeta.schema.json")


def time_command(args: list[str], runs: int, cwd: Path) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(MLMETA + args, cwd=cwd, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"mlmeta {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return {"min": min(samples), "median": statistics.median(samples), "max": max(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        specs = Path(tmp) / "model_specs"
        specs.mkdir()
        make_specs(specs, options.specs)
        results = {
            "mlmeta --version": time_command(["--version"], options.runs, Path(tmp)),
            "mlmeta --help": time_command(["--help"], options.runs, Path(tmp)),
            f"mlmeta validate ({options.specs} specs)": time_command(["validate", "model_specs"], options.runs,
                                                                     Path(tmp)),
        }
    if options.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'command':<34} {'min':>8} {'median':>8} {'max':>8}   ({options.runs} runs, {sys.platform})")
    for name, r in results.items():
        print(f"{name:<34} {r['min']:>7.3f}s {r['median']:>7.3f}s {r['max']:>7.3f}s")


if __name__ == "__main__":
    main()
