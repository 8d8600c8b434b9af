"""What ``pip install mlmeta`` costs a user: packages, disk and time, in a fresh venv, no pip cache.

    .venv/bin/python bench/bench_install.py [--json bench/results-install.json] [--no-baseline]

Builds the wheel (``python -m build``), then installs it as a user would - plain ``pip install``,
no constraints file, ``--no-cache-dir`` - into a fresh virtual environment, and counts the
distributions installed (pip itself excluded), the size of site-packages and the wall time.

The baseline, in the same run: the same wheel plus what the runtime required before
(``openmetadata-ingestion`` 2.0, installed with the project's constraints file, which it
needs to install at all here). Targets (issue 18): at most 60 packages and 200 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE_SDK = "openmetadata-ingestion==2.0.7.0"


def build_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(folder), str(REPO)], check=True,
                   capture_output=True)
    return next(folder.glob("mlmeta-*.whl"))


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def measure(wheel: Path, work: Path, extra: list[str]) -> dict:
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    before = folder_size(site)
    start = time.perf_counter()
    subprocess.run([str(python), "-m", "pip", "install", "--no-cache-dir", "--quiet", "--disable-pip-version-check",
                    str(wheel), *extra], check=True)
    seconds = time.perf_counter() - start
    listed = json.loads(subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], check=True,
                                       capture_output=True, text=True).stdout)
    packages = sorted(p["name"] for p in listed if p["name"].lower() not in ("pip", "setuptools"))
    return {"packages": len(packages), "site_packages_mb": round((folder_size(site) - before) / 1e6, 1),
            "seconds": round(seconds, 1), "sdk": any(p.lower() == "openmetadata-ingestion" for p in packages),
            "names": packages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--no-baseline", action="store_true", help="skip the install with the SDK")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        rows = {"mlmeta": measure(wheel, work / "plain", [])}
        if not options.no_baseline:
            rows["mlmeta + SDK (before)"] = measure(wheel, work / "baseline",
                                                    [BASELINE_SDK, "-c", str(REPO / "constraints.txt")])
    print(f"{'install':<24} {'packages':>9} {'MB':>8} {'seconds':>8}")
    for name, row in rows.items():
        print(f"{name:<24} {row['packages']:>9} {row['site_packages_mb']:>8} {row['seconds']:>8}")
    if options.json:
        options.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
