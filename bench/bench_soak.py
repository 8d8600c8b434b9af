"""The soak: ``mlmeta watch`` and ``mlmeta webhook serve`` through thousands of promotions, in
compressed time - resident memory and open files over time, and promotion-to-catalog latency.

    .venv/bin/python bench/bench_soak.py [--promotions 5000] [--models 200] [--modes watch,webhook]
                                         [--interval 1] [--in-flight 20] [--latency-ms 20]
                                         [--reconcile-interval 60] [--warm-up 0.1] [--json FILE]

A real MLflow server holds ``--models`` registered models with two versions each, ``champion`` on
version 1; a project has one spec per model, and each mode gets a fresh sandbox (in its own
process, ``--latency-ms`` added to every request, mlmeta's custom properties defined so that the
catalog records the MLflow version). Each mode is a whole ``mlmeta`` process, as users run it:

* ``watch --interval I``: promotions are found by polling;
* ``webhook serve --reconcile-interval R``: each promotion is announced by a delivery the
  benchmark signs and sends as MLflow does (MLflow's own sender caches the webhook list for 60 s;
  the signature, headers and whole-second timestamp are MLflow's).

A promotion moves the ``champion`` alias to the model's other version - a real promotion, and a
real publish (the ML model's ``mlflowVersion`` changes). ``--promotions`` of them per mode go
round-robin over the models, as fast as the process takes them: at most ``--in-flight`` wait at a
time, and a model is promoted again only once the catalog shows its previous promotion (two moves
before a pass would cancel out). A promotion is done when the process's event for it appears in
its JSON-lines sink and the catalog shows the version; its latency runs from the alias call
returning to the entity's ``updatedAt`` (the sandbox's clock is this machine's).

Every ``--sample-every`` seconds the process's VmRSS, open file descriptors (/proc/PID/fd) and
threads are read. Warm-up is the first ``--warm-up`` share of the promotions; after it, resident
memory is flat when (max - min) / min stays within 10 %. Prints a summary per mode and, with
``--json``, writes it with the samples. Compare figures from one run only: the machine's other load
moves them all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
MLMETA = [sys.executable, "-m", "mlmeta"]
SECRET = "bench-soak-secret"
ALIAS = "champion"
TIMELINE_ROWS = 400  # samples kept per mode in --json (the figures use every sample)
FLAT_WITHIN = 0.10  # the bound on resident memory after warm-up
STALL_LIMIT = 120.0  # seconds without a promotion reaching the catalog: the run has failed


# --- the process under test ---------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float  # since the mode's first promotion
    rss_mb: float
    fds: int
    threads: int
    done: int  # promotions in the catalog by then


def read_process(pid: int) -> tuple[float, int, int]:
    """(resident MB, open file descriptors, threads) of a live process, from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    rss_kb = int(status["VmRSS"].split()[0])
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), int(status["Threads"])


class Sampler(threading.Thread):
    """Reads the process every ``every`` seconds until stopped; ``done`` says how far the run is."""

    def __init__(self, pid: int, every: float, done) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.pid, self.every, self.done = pid, every, done
        self.samples: list[Sample] = []
        self.started = time.monotonic()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                rss, fds, threads = read_process(self.pid)
            except (OSError, KeyError):  # the process ended: the run says why
                return
            self.samples.append(Sample(time.monotonic() - self.started, rss, fds, threads, self.done()))
            self.stopping.wait(self.every)

    def stop(self) -> list[Sample]:
        self.stopping.set()
        self.join()
        return self.samples


# --- what the benchmark sees of the catalog and of the process's events --------------------------


class Catalog:
    """The sandbox, read as a user would: which MLflow version an ML model shows, and since when."""

    def __init__(self, sandbox) -> None:
        self.base = sandbox.api_url
        self.token = sandbox.token()

    def shown(self, name: str) -> tuple[str | None, float]:
        """(the mlflowVersion the catalog shows, its updatedAt in epoch seconds)."""
        request = urllib.request.Request(f"{self.base}/v1/mlmodels/name/mlflow_models.{name}?fields=extension",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            entity = json.load(answer)
        version = (entity.get("extension") or {}).get("mlflowVersion")
        return (None if version is None else str(version)), entity["updatedAt"] / 1000


class EventTail:
    """The (registered model, version) of each event the process appends to its JSON-lines sink."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def new(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = self.partial + handle.read()
            self.offset = handle.tell()
        *lines, self.partial = data.split(b"\n")
        return [tuple(json.loads(line)["subject"].rsplit("/", 1)) for line in lines if line.strip()]


def deliver(url: str, name: str, version: str) -> None:
    """An ``model_version_alias.created`` delivery, signed and stamped as MLflow's sender does."""
    from mlmeta.triggers.webhook import signature

    body = json.dumps({"entity": "model_version_alias", "action": "created",
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "data": {"name": name, "alias": ALIAS, "version": version}}).encode()
    delivery_id, stamp = str(uuid.uuid4()), str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": signature(SECRET, delivery_id, stamp, body)})
    with urllib.request.urlopen(request, timeout=30) as answer:
        if answer.status != 202:
            raise SystemExit(f"the receiver answered {answer.status} to the delivery for {name} v{version}")


# --- driving promotions --------------------------------------------------------------------------


@dataclass
class Run:
    """One mode's promotions: what is waiting, what reached the catalog and how long it took."""

    total: int
    in_flight: int
    waiting: dict[str, tuple[str, float]] = field(default_factory=dict)  # model -> (version, promoted at)
    latencies: list[float] = field(default_factory=list)
    started: int = 0
    first_at: float = 0.0
    last_at: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies)


def drive(run: Run, versions: dict[str, str], client, catalog: Catalog, events: EventTail,
          announce, log: Path) -> None:
    """Promote round-robin, at most ``in_flight`` waiting, until ``total`` reached the catalog."""
    turn = deque(versions)
    run.first_at = time.time()
    progress_at = time.monotonic()
    while run.done < run.total:
        while run.started < run.total and len(run.waiting) < run.in_flight:
            name = turn[0]
            turn.rotate(-1)
            if name in run.waiting:
                continue
            target = "2" if versions[name] == "1" else "1"
            client.set_registered_model_alias(name, ALIAS, target)
            run.waiting[name] = (target, time.time())
            announce(name, target)
            versions[name] = target
            run.started += 1
        arrived = [(n, v) for n, v in events.new() if run.waiting.get(n, (None,))[0] == v]
        for name, version in arrived:
            shown, updated_at = catalog.shown(name)
            if shown != version:
                raise SystemExit(f"{name}: the event says v{version} is published, the catalog shows v{shown}")
            run.latencies.append(updated_at - run.waiting.pop(name)[1])
            run.last_at = updated_at
        if arrived:
            progress_at = time.monotonic()
        elif time.monotonic() - progress_at > STALL_LIMIT:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise SystemExit(f"no promotion reached the catalog for {STALL_LIMIT:.0f} s "
                             f"({run.done} of {run.total} done, waiting: {sorted(run.waiting)[:5]}...)")
        else:
            time.sleep(0.02)
        if arrived and run.done // 500 > (run.done - len(arrived)) // 500:
            print(f"  {run.done}/{run.total} promotions in the catalog", file=sys.stderr)


# --- the two modes -------------------------------------------------------------------------------


def wait_until(condition, limit: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise SystemExit(f"{what} within {limit:.0f} s: it did not (exit {process.poll()})")
        time.sleep(0.1)


def start_watch(project: Path, work: Path, env: dict, options) -> tuple[subprocess.Popen, Path, Path, object]:
    events, log, checkpoint = work / "watch-events.jsonl", work / "watch.log", work / "watch-checkpoint.json"
    process = subprocess.Popen([*MLMETA, "watch", "--interval", str(options.interval), "--jitter", "0",
                                "--checkpoint", str(checkpoint), "--sink", f"jsonl:{events}"],
                               cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    wait_until(checkpoint.exists, 600, "watch's first pass (the baseline) should end", process, log)
    return process, events, log, lambda name, version: None


def start_webhook(project: Path, work: Path, env: dict, options) -> tuple[subprocess.Popen, Path, Path, object]:
    from mlmeta.demo.services import free_port

    events, log, ready = work / "webhook-events.jsonl", work / "webhook.log", work / "webhook-ready.json"
    process = subprocess.Popen([*MLMETA, "webhook", "serve", "--port", str(free_port()), "--ready-file", str(ready),
                                "--state-dir", str(work / "webhook-state"), "--sink", f"jsonl:{events}",
                                "--reconcile-interval", str(options.reconcile_interval)],
                               cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    wait_until(ready.exists, 120, "webhook serve should listen", process, log)
    url = json.loads(ready.read_text())["url"]
    wait_until(lambda: health(url)["reconciled"], 600, "webhook serve's first reconciliation should end", process, log)
    return process, events, log, lambda name, version: deliver(url, name, version)


def health(url: str) -> dict:
    with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=10) as answer:
        return json.load(answer)


def scrape_metrics(url: str) -> dict[str, float]:
    """The receiver's own counters and latency histogram (sum and count), from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    wanted = ("mlmeta_promotions_received_total", "mlmeta_promotions_acted_total", "mlmeta_promotions_failed_total",
              "mlmeta_promotions_retried_total", "mlmeta_promotion_latency_seconds_sum",
              "mlmeta_promotion_latency_seconds_count")
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name in wanted}


def soak(mode: str, mlflow_url: str, project: Path, work: Path, versions: dict[str, str], options) -> dict:
    from mlflow import MlflowClient

    from mlmeta.demo.services import SandboxProcess

    with SandboxProcess(work / f"sandbox-{mode}", extra_args=["--latency-ms", str(options.latency_ms)]) as sandbox:
        env = {**os.environ, "OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token(),
               "MLFLOW_TRACKING_URI": mlflow_url, "MLMETA_WEBHOOK_SECRET": SECRET}
        subprocess.run([*MLMETA, "setup"], cwd=project, env=env, check=True, capture_output=True)
        starting = time.monotonic()
        start = start_watch if mode == "watch" else start_webhook
        process, events, log, announce = start(project, work, env, options)
        print(f"{mode}: started, {len(versions)} models caught up in {time.monotonic() - starting:.0f} s",
              file=sys.stderr)
        run = Run(options.promotions, options.in_flight)
        sampler = Sampler(process.pid, options.sample_every, lambda: run.done)
        sampler.start()
        try:
            drive(run, versions, MlflowClient(mlflow_url), Catalog(sandbox), EventTail(events), announce, log)
            time.sleep(options.sample_every * 2)  # the resting process, after the last promotion
            counters = scrape_metrics(json.loads((work / "webhook-ready.json").read_text())["url"]) \
                if mode == "webhook" else {}
        finally:
            samples = sampler.stop()
            process.terminate()
            code = process.wait(120)
        if code != 0:
            raise SystemExit(f"{mode} exited {code} on SIGTERM: {log.read_text(errors='replace')[-2000:]}")
    return summarise(run, samples, options.warm_up) | ({"metrics": counters} if counters else {})


# --- figures -------------------------------------------------------------------------------------


def percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    return ordered[max(0, min(len(ordered) - 1, int(-(-share * len(ordered) // 1)) - 1))]


def memory_after_warm_up(samples: list[Sample], warm_up: int) -> dict:
    """Resident memory once ``warm_up`` promotions are in: its range, and the medians of the first
    and last quarter of the samples (growth shows as a last quarter above the first)."""
    rss = [s.rss_mb for s in samples if s.done >= warm_up]
    quarter = max(1, len(rss) // 4)
    low, high = min(rss), max(rss)
    first, last = statistics.median(rss[:quarter]), statistics.median(rss[-quarter:])
    return {"samples": len(rss), "min_mb": low, "max_mb": high, "first_quarter_median_mb": first,
            "last_quarter_median_mb": last, "spread_pct": 100 * (high - low) / low,
            "drift_pct": 100 * (last - first) / first, "flat": (high - low) / low <= FLAT_WITHIN}


def summarise(run: Run, samples: list[Sample], warm_up_share: float) -> dict:
    ordered = sorted(run.latencies)
    warm_up = int(run.total * warm_up_share)
    seconds = run.last_at - run.first_at
    return {
        "promotions": run.done, "seconds": seconds, "per_second": run.done / seconds, "warm_up_promotions": warm_up,
        "latency_s": {"p50": percentile(ordered, 0.50), "p90": percentile(ordered, 0.90),
                      "p99": percentile(ordered, 0.99), "max": ordered[-1], "mean": statistics.fmean(ordered)},
        "rss_at_start_mb": samples[0].rss_mb, "rss_after_warm_up": memory_after_warm_up(samples, warm_up),
        "fds": {"min": min(s.fds for s in samples), "max": max(s.fds for s in samples)},
        "threads": {"min": min(s.threads for s in samples), "max": max(s.threads for s in samples)},
        "samples": [[round(s.seconds, 1), round(s.rss_mb, 2), s.fds, s.threads, s.done] for s in samples],
    }


def results_text(document: dict) -> str:
    """The --json file: each mode's samples thinned to ``TIMELINE_ROWS`` (the last one kept), and a
    row per line - the numbers of one sample together, not one per line."""
    for mode in document["modes"].values():
        rows = mode.pop("samples")
        step = -(-len(rows) // TIMELINE_ROWS)
        mode["timeline"] = {"columns": ["seconds", "rss_mb", "fds", "threads", "done"], "every_nth_sample": step,
                            "rows": rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else [])}
    text = json.dumps(document, indent=2)
    return re.sub(r"\[[-0-9.,\s]*\]", lambda row: json.dumps(json.loads(row.group(0))), text) + "\n"


def table(modes: dict[str, dict]) -> str:
    lines = ["| mode | promotions | run | per second | p50 | p90 | p99 | max | RSS after warm-up (min-max) "
             "| first / last quarter | flat within 10 % | fds | threads |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |"]
    for mode, m in modes.items():
        lat, rss = m["latency_s"], m["rss_after_warm_up"]
        lines.append(f"| {mode} | {m['promotions']:,} | {m['seconds'] / 60:.1f} min | {m['per_second']:.1f} "
                     f"| {lat['p50']:.2f} s | {lat['p90']:.2f} s | {lat['p99']:.2f} s | {lat['max']:.2f} s "
                     f"| {rss['min_mb']:.1f}-{rss['max_mb']:.1f} MB ({rss['spread_pct']:.1f} %) "
                     f"| {rss['first_quarter_median_mb']:.1f} / {rss['last_quarter_median_mb']:.1f} MB "
                     f"| {'yes' if rss['flat'] else 'NO'} | {m['fds']['min']}-{m['fds']['max']} "
                     f"| {m['threads']['min']}-{m['threads']['max']} |")
    return "\n".join(lines)


# --- setting up ----------------------------------------------------------------------------------


def register_two_versions(tracking_uri: str, names: list[str], logged: tuple[str, str, str]) -> None:
    """Each model with versions 1 and 2 of the same logged model, ``champion`` on version 1."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    source, run_id, model_id = logged

    def one(name: str) -> None:
        client.create_registered_model(name)
        for _ in range(2):
            client.create_model_version(name, source=source, run_id=run_id, model_id=model_id)
        client.set_registered_model_alias(name, ALIAS, "1")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, names))


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promotions", type=int, default=5000, help="promotions per mode")
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--modes", default="watch,webhook")
    parser.add_argument("--interval", type=float, default=1.0, help="watch's --interval")
    parser.add_argument("--reconcile-interval", type=float, default=60.0, help="webhook serve's --reconcile-interval")
    parser.add_argument("--in-flight", type=int, default=20, help="promotions waiting for the catalog at most")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added by the sandbox to every request")
    parser.add_argument("--sample-every", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--warm-up", type=float, default=0.1, metavar="SHARE", help="share of the promotions")
    parser.add_argument("--mlflow-workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures and samples here")
    options = parser.parse_args(argv)
    options.modes = [m.strip() for m in options.modes.split(",") if m.strip()]
    if set(options.modes) - {"watch", "webhook"} or not options.modes:
        parser.error("--modes takes watch, webhook or both")
    if not 1 <= options.in_flight <= options.models:
        parser.error("--in-flight must be between 1 and --models (a model waits for its previous promotion)")
    if options.promotions < 1 or not 0 <= options.warm_up < 1:
        parser.error("--promotions must be at least 1 and --warm-up a share below 1")
    return options


def main() -> None:
    options = parse_options()
    import bench_publish

    from mlmeta.demo.services import MlflowServer

    modes = {}
    with tempfile.TemporaryDirectory() as tmp, MlflowServer(Path(tmp) / "mlflow", workers=options.mlflow_workers) \
            as mlflow:
        work = Path(tmp)
        names = [f"soak_{i:04d}" for i in range(options.models)]
        register_two_versions(mlflow.url, names, bench_publish.log_example_model(mlflow.url))
        project = bench_publish.make_project(work / "project", names)
        versions = dict.fromkeys(names, "1")
        for mode in options.modes:
            modes[mode] = soak(mode, mlflow.url, project, work, versions, options)
            print(json.dumps({k: v for k, v in modes[mode].items() if k != "samples"}), file=sys.stderr)
    machine = (f"{os.cpu_count()} cores shared with other work, Python {sys.version.split()[0]}, "
               f"sandbox latency {options.latency_ms:g} ms")
    print(f"mlmeta soak, whole processes ({machine}; {options.models} models, watch --interval "
          f"{options.interval:g} s, webhook --reconcile-interval {options.reconcile_interval:g} s, "
          f"at most {options.in_flight} promotions waiting):\n")
    print(table(modes))
    if options.json:
        settings = {k: v for k, v in vars(options).items() if k != "json"}
        options.json.write_text(results_text({"machine": machine, "options": settings, "modes": modes}),
                                encoding="utf-8")


if __name__ == "__main__":
    main()
