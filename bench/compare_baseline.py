"""Before and after, in one session: bench/bench_cli.py and bench/bench_publish.py for two source
trees, side by side.

    .venv/bin/python bench/compare_baseline.py --baseline ../wt-baseline [--current .] [--rounds 2]
        [--cli-args "--specs 200 --runs 15"] [--publish-args "--sizes 1,200 --runs 3 --baseline-max 0"]
        [--scripts own|current] [--json compare.json]

Each tree is copied first (without .git, caches and work folders) into a temporary folder and its
package compiled there, so both are measured alike - from bytecode compiled the same way - and
neither tree is written to (a baseline checkout stays as it is). Each copy is measured with this
virtual environment's Python and ``PYTHONPATH=<copy>``, which comes before the environment's
editable install, so ``import mlmeta`` - in the benchmark and in every ``mlmeta`` process it
starts - is that tree's code (checked before anything is timed). The
rounds alternate the order (baseline first, then current first ...) so that a drift of the
machine's load does not favour one tree; each figure of the table is the median over the rounds
of what the benchmark reports (itself a median of its ``--runs`` where it says so). ``ratio`` is
current / baseline: 1.10 is 10 % slower. Run it with both trees at the same commit first: the
ratios you get then are the noise of this machine, today - a difference smaller than that is no
difference.

``--scripts own`` (default) runs each tree's own bench/ scripts: they import mlmeta's internals
(``bench_publish.py``: the page sizes), which a restructuring moves. ``--scripts current`` runs the
current tree's scripts for both, when the scripts themselves changed but still import with both.
``bench_cli.py`` times this environment's ``mlmeta`` console script: its entry point
(``mlmeta.cli:main``) was fixed when the environment was installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
# the benchmark scripts of the trees compared, with a fixed argv (B404, B603)
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
# bench_publish.py's row keys worth comparing: (key, what, unit); the request counts should be equal
PUBLISH = [("first_s", "first publish", "s"), ("again_s", "unchanged publish", "s"),
           ("validate_online_s", "validate --online", "s"), ("first_mb", "first publish, peak", "MB"),
           ("again_mb", "unchanged publish, peak", "MB"), ("first_om_per_model", "first publish, OM req/model", "req"),
           ("again_om", "unchanged publish, OM requests", "req"),
           ("again_mlflow", "unchanged publish, MLflow requests", "req")]
FORMATS = {"s": "{:.3f} s", "MB": "{:.0f} MB", "req": "{:.2f}"}


def environment(tree: Path) -> dict[str, str]:
    # MLflow's client telemetry, in the benchmarks' own process, is a network call and a race on
    # os.environ between the threads that register the models (seen failing with KeyError
    # '_MLFLOW_TELEMETRY_SESSION_ID'); mlmeta never imports that client
    return {**os.environ, "PYTHONPATH": str(tree), "MLFLOW_DISABLE_TELEMETRY": "true"}


def snapshot(tree: Path, into: Path) -> Path:
    """A copy of ``tree`` to measure, its package compiled (the tree itself is not written to)."""
    shutil.copytree(tree, into, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".venv", ".mlmeta-work",
                                                              ".pytest_cache", "dist", "build"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "mlmeta")], check=True,  # nosec B603
                   capture_output=True)
    return into


def check_imports(tree: Path) -> str:
    """Where ``import mlmeta`` comes from with this tree on PYTHONPATH (it must be the tree)."""
    done = subprocess.run([sys.executable, "-c", "import mlmeta, sys; print(mlmeta.__file__)"],  # nosec B603
                          cwd=tempfile.gettempdir(), env=environment(tree), capture_output=True, text=True, check=True)
    where = Path(done.stdout.strip()).resolve()
    if tree not in where.parents:
        raise SystemExit(f"with PYTHONPATH={tree}, mlmeta is imported from {where}, not from that tree")
    return str(where)


def run_script(tree: Path, scripts: Path, name: str, args: list[str]) -> str:
    command = [sys.executable, str(scripts / "bench" / name), *args]
    # a benchmark script of the trees compared (B603)
    done = subprocess.run(command, cwd=tempfile.gettempdir(), env=environment(tree),  # nosec B603
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{name} {' '.join(args)} with PYTHONPATH={tree} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return done.stdout


def measure(tree: Path, scripts: Path, cli_args: list[str] | None, publish_args: list[str] | None) -> dict[str, float]:
    """One round for one tree: {metric: value}."""
    figures: dict[str, float] = {}
    if cli_args is not None:
        out = run_script(tree, scripts, "bench_cli.py", [*cli_args, "--json"])
        for command, result in json.loads(out).items():
            figures[f"{command} [s]"] = result["median"]
    if publish_args is not None:
        with tempfile.TemporaryDirectory() as tmp:
            rows = Path(tmp) / "rows.json"
            run_script(tree, scripts, "bench_publish.py", [*publish_args, "--json", str(rows)])
            for row in json.loads(rows.read_text(encoding="utf-8"))["rows"]:
                for key, what, unit in PUBLISH:
                    if key in row:
                        figures[f"publish, {row['specs']} spec(s): {what} [{unit}]"] = row[key]
    return figures


def table(baseline: list[dict[str, float]], current: list[dict[str, float]]) -> str:
    def values(rounds: list[dict[str, float]], metric: str) -> list[float]:
        return [r[metric] for r in rounds if metric in r]

    def spread(found: list[float]) -> str:
        middle = statistics.median(found) if found else 0
        return f"{(max(found) - min(found)) / middle * 100:.0f} %" if len(found) > 1 and middle else "-"

    metrics = list(dict.fromkeys(m for r in baseline + current for m in r))
    width = max(len(m) for m in metrics) - 4
    lines = [f"{'metric':<{width}}  {'baseline':>10}  {'current':>10}  {'ratio':>6}  {'spread base / cur':>17}",
             "-" * (width + 53)]
    for metric in metrics:
        name, unit = metric[:-1].rsplit(" [", 1)
        before, after = values(baseline, metric), values(current, metric)
        a = statistics.median(before) if before else None
        b = statistics.median(after) if after else None
        shown = [FORMATS[unit].format(v) if v is not None else "-" for v in (a, b)]
        ratio = f"{b / a:.2f}" if a and b is not None else "-"
        lines.append(f"{name:<{width}}  {shown[0]:>10}  {shown[1]:>10}  {ratio:>6}  "
                     f"{spread(before) + ' / ' + spread(after):>17}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the tree before (e.g. a worktree of main)")
    parser.add_argument("--current", type=Path, default=HERE, help="the tree after (default: this one)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per tree, alternating the order")
    parser.add_argument("--cli-args", default="--specs 200 --runs 15", help="bench_cli.py's arguments; '-' skips it")
    parser.add_argument("--publish-args", default="--sizes 1,200 --runs 3 --baseline-max 0",
                        help="bench_publish.py's arguments ('--baseline-max 0': without the SDK demo's "
                             "baseline, which measures the SDK, not mlmeta); '-' skips it")
    parser.add_argument("--scripts", choices=("own", "current"), default="own",
                        help="run each tree's own bench scripts, or the current tree's for both")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    options = parser.parse_args()
    trees = {"baseline": options.baseline.resolve(), "current": options.current.resolve()}
    cli_args = None if options.cli_args == "-" else shlex.split(options.cli_args)
    publish_args = None if options.publish_args == "-" else shlex.split(options.publish_args)
    rounds: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlmeta-compare-") as work:
        copies = {label: snapshot(tree, Path(work) / label) for label, tree in trees.items()}
        for label, copy in copies.items():
            print(f"{label}: {trees[label]}, measured as {copy} (mlmeta from {check_imports(copy)})",
                  file=sys.stderr)
        for number in range(options.rounds):
            order = list(trees) if number % 2 == 0 else list(reversed(trees))
            for label in order:
                scripts = copies[label] if options.scripts == "own" else copies["current"]
                print(f"round {number + 1}/{options.rounds}: {label} ...", file=sys.stderr, flush=True)
                rounds[label].append(measure(copies[label], scripts, cli_args, publish_args))
    load = os.getloadavg()
    print(f"\n{options.rounds} round(s) per tree, {time.perf_counter() - started:.0f} s in all; "
          f"{os.cpu_count()} cores, load average now {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
          f"Python {sys.version.split()[0]}")
    print(f"bench_cli.py {options.cli_args}; bench_publish.py {options.publish_args}; scripts: {options.scripts}\n")
    print(f"baseline: {trees['baseline']}\ncurrent:  {trees['current']}\n")
    print(table(rounds["baseline"], rounds["current"]))
    print("\nratio: current / baseline (median over the rounds); spread: (max - min) / median over the rounds")
    if options.json:
        options.json.write_text(json.dumps({"trees": {k: str(v) for k, v in trees.items()}, "rounds": rounds},
                                           indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
