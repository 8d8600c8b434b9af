"""Golden outputs: every command of ``mlmeta --help``, run as a whole process on the demo project, in
the sequence a team goes through, must print byte for byte what this test recorded (issue "One seam
per concern": "the JSON outputs and exit codes of every command are byte-identical on the demo
project; a test compares them").

The demo project is what ``make demo`` runs on: this repository's ``model_specs/`` and the
``[tool.mlmeta]`` settings of its ``pyproject.toml``, committed to a fresh git repository; a second
project folder, ``streaming-team``, holds the streaming example's spec (``examples/streaming/``) and
plays "another repository publishing into the same service". The servers are the demo's own: a real
``mlflow server`` and ``mlmeta sandbox`` (``mlmeta.demo.services``), both models trained and promoted
by the demo's scripts (``examples/train.py``, ``examples/streaming/train_bot_detector.py``,
``examples/promote.py``). This module starts its own servers rather than using the session's
``mlflow_server``/``sandbox`` fixtures: other tests register models and leave them in the session's
MLflow server, and ``watch``, ``doctor`` and ``init`` would see them, so the outputs would depend on
which tests ran before.

Each step records the command line, the exit code and stdout (stderr only where it carries the
command's JSON: ``watch --format json`` writes its progress there as JSON lines; and a file a
command writes that stdout does not show, such as the saved plan). What truly differs from one run
to the next (ports, temporary folders, times, random ids) is rewritten: the values this run picked,
exactly, and ``PATTERNS``, a short list of explicit rules. Everything else must match the golden
file byte for byte, else the test fails showing a unified diff of every step that differs (and
leaves this run's outputs beside the test's temporary folder).

Re-record the golden files (``tests/e2e/golden/``) only when an output is meant to change:

    MLMETA_RECORD_GOLDEN=1 PYTHONPATH=. .venv/bin/python -m pytest tests/e2e/test_outputs_unchanged.py

then review ``git diff tests/e2e/golden`` like any other change.

Servers that run until stopped have no one-shot mode and are not run here: ``mlmeta sandbox`` (it
is the catalog these steps run against), ``mlmeta webhook serve`` and ``mlmeta webhook work``
(their tests are tests/triggers/ and tests/security/test_receiver_*). ``watch`` runs with
``--once``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
# the commands under test, whole processes with a fixed argv (B404, B603)
import subprocess  # nosec B404
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlmeta.demo.services import MlflowServer, SandboxProcess
from tests.conftest import Registry
from tests.helpers.files import REPO


GOLDEN = Path(__file__).resolve().parent / "golden"
RECORD = os.environ.get("MLMETA_RECORD_GOLDEN") == "1"

# Commands of `mlmeta --help` (and `mlmeta webhook --help`) that are not run, and why. Every other
# command must be run by a step: a command added to the CLI fails this test until a step runs it.
NOT_RUN = {
    "sandbox": "a server until interrupted, no one-shot mode; it is the catalog every step runs against",
    "webhook serve": "a server until stopped (SIGTERM), no one-shot mode",
    "webhook work": "a Kafka consumer until stopped (SIGTERM), no one-shot mode",
}

# What differs between two runs of the same code, and nothing else. First the values a run picks,
# replaced exactly (Steps.values): the temporary folder; each server's port (a free port: always five
# digits, the kernel's ephemeral range, so counts of characters that include a URL stay the same);
# each model's MLflow run id and logged-model id (random at each training), also where a summary
# cuts the id short ("m-0123456789abcde..."). Then these patterns, each (pattern, replacement):
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # wall-clock times: ISO 8601 (saved plans' created_at, events' time), MLflow's registration time
    # in the generated description ("registered 2026-12-08 00:33 UTC")
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}| UTC)?"), "<time>"),
    # the same as milliseconds since 1970, in the registry's record of a version that events carry
    (re.compile(r'("(?:creationTimestamp|lastUpdatedTimestamp)": ?)\d{13}\b'), r"\1<epoch-ms>"),
    # publish's fingerprint (a saved plan's sourceHash): it hashes the registry's address, whose port varies
    (re.compile(r"\bmlmeta:[0-9a-f]{25}\b"), "mlmeta:<fingerprint>"),
]


# --- the demo project ------------------------------------------------------------------------------

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Demo Team", "GIT_AUTHOR_EMAIL": "demo@example.com",
                "GIT_COMMITTER_NAME": "Demo Team", "GIT_COMMITTER_EMAIL": "demo@example.com",
                # fixed dates: the same files give the same commit id at every run (specs record it)
                "GIT_AUTHOR_DATE": "2026-01-05T10:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-05T10:00:00+00:00"}


def tool_mlmeta(pyproject: str) -> str:
    """The ``[tool.mlmeta...]`` tables of a pyproject.toml, alone: the demo project's settings are the
    repository's, and nothing else of the file (a dependency bump must not change the commit id)."""
    tables = re.split(r"(?m)^(?=\[)", pyproject)
    return "".join(table for table in tables if table.startswith("[tool.mlmeta"))


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,  # nosec B603 B607
                   env={**os.environ, **GIT_IDENTITY})


def make_projects(tmp: Path) -> tuple[Path, Path]:
    main = tmp / "demo-project"
    (main / "model_specs").mkdir(parents=True)
    shutil.copy(REPO / "model_specs" / "delivery_time.yaml", main / "model_specs")
    shutil.copy(REPO / "mlmeta.schema.json", main)
    (main / "pyproject.toml").write_text(tool_mlmeta((REPO / "pyproject.toml").read_text(encoding="utf-8")),
                                         encoding="utf-8")
    git(main, "init", "-q", "-b", "main")
    git(main, "add", "-A")
    git(main, "commit", "-q", "-m", "Document delivery_time with mlmeta")
    # not committed: the demo-format example to convert, and a spec with mistakes
    (main / "demo").mkdir()
    shutil.copy(REPO / "examples" / "openmetadata-demo" / "ml_model.yaml", main / "demo")
    broken = (REPO / "model_specs" / "delivery_time.yaml").read_text(encoding="utf-8")
    broken = (broken.replace("description: |", "desciption: |", 1)
              .replace("column: demo_pg.postgres.public.users.premium", "column: demo_pg.postgres.users.premium")
              .replace("type: numerical", "type: numeric", 1))
    (main / "broken").mkdir()
    (main / "broken" / "delivery_time.yaml").write_text(broken, encoding="utf-8")
    # a wrong setting in a project file
    (tmp / "bad-settings" / "model_specs").mkdir(parents=True)
    (tmp / "bad-settings" / "pyproject.toml").write_text('[tool.mlmeta]\nservice = "mlflow_models"\n'
                                                         'concurrency = "many"\n', encoding="utf-8")

    other = tmp / "streaming-team"  # another repository, not under git: its project name is its folder's
    (other / "model_specs").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "streaming" / "bot_detector.yaml", other / "model_specs")
    shutil.copy(REPO / "mlmeta.schema.json", other)
    (other / "pyproject.toml").write_text((main / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return main, other


class DemoServers:
    """A real MLflow server and the sandbox, with both example models trained and promoted as ``make
    demo`` does (alias champion), made ready in a background thread while the offline steps run."""

    def __init__(self, work: Path) -> None:
        self.mlflow = MlflowServer(work / "mlflow")
        self.sandbox = SandboxProcess(work / "sandbox")
        self.environ = dict(os.environ)  # read here, not in the thread: importing mlflow there writes to it
        self.registry: Registry | None = None
        self.versions: dict[str, dict] = {}  # registered model -> its version 1, as MLflow's REST API gives it
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._prepare, daemon=True)
        self._thread.start()

    def ready(self) -> DemoServers:
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"the demo's servers could not be prepared: {self.error!r}") from self.error
        return self

    def stop(self) -> None:
        self._thread.join()
        self.sandbox.stop()
        self.mlflow.stop()

    def _prepare(self) -> None:
        try:
            self._start_and_train()
        except BaseException as error:  # noqa: BLE001 - handed to ready(), in the test's thread
            self.error = error

    def _start_and_train(self) -> None:
        errors: list[BaseException] = []

        def start(server) -> None:
            try:
                server.start()
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

        both = [threading.Thread(target=start, args=(server,)) for server in (self.mlflow, self.sandbox)]
        for thread in both:
            thread.start()
        for thread in both:
            thread.join()
        if errors:
            raise errors[0]
        # The two trainings run at once. Each script creates its experiment, and which one would get
        # id 1 (it is in artifact paths and run links) would be a race: create them first, in order.
        for experiment in ("delivery-time", "bot-detector"):
            mlflow_api(self.mlflow.url, "experiments/create", {"name": experiment})
        env = {**self.environ, "MLFLOW_TRACKING_URI": self.mlflow.url, "PYTHONWARNINGS": "ignore",
               "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}
        demo = [[["examples/train.py", "--experiment", "delivery-time"], ["examples/promote.py", "delivery_time", "1"]],
                [["examples/streaming/train_bot_detector.py", "--experiment", "bot-detector"],
                 ["examples/promote.py", "bot_detector", "1"]]]
        failures: list[str] = []

        def chain(scripts: list[list[str]]) -> None:
            for script in scripts:
                done = subprocess.run([sys.executable, *script], cwd=REPO, env=env,  # nosec B603
                                      capture_output=True, text=True, timeout=300)
                if done.returncode:
                    failures.append(f"{' '.join(script)}: {done.stderr[-2000:]}")
                    return

        trainers = [threading.Thread(target=chain, args=(scripts,)) for scripts in demo]
        for thread in trainers:
            thread.start()
        for thread in trainers:
            thread.join()
        if failures:
            raise RuntimeError("; ".join(failures))
        for name in ("delivery_time", "bot_detector"):
            self.versions[name] = mlflow_api(self.mlflow.url, f"model-versions/get?name={name}&version=1")[
                "model_version"]
        self.registry = Registry(self.mlflow.url, [])  # imports mlflow: here, while the offline steps run


def mlflow_api(url: str, route: str, body: dict | None = None) -> dict:
    """MLflow's REST API (what the demo's scripts do through MlflowClient)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/{route}", data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # nosec B310 - the server this test started
        return json.load(answer)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    demo = DemoServers(tmp_path_factory.mktemp("servers"))
    try:
        yield demo
    finally:
        demo.stop()


# --- running and recording -------------------------------------------------------------------------


@dataclass
class Steps:
    """Runs the steps and keeps what each printed, normalised."""

    tmp: Path
    env: dict[str, str]
    values: list[tuple[str, str]] = field(default_factory=list)  # (what this run picked, its placeholder)
    records: dict[str, str] = field(default_factory=dict)  # "NN-name" -> the step's normalised record
    stdout: dict[str, str] = field(default_factory=dict)  # name -> what it printed, as printed
    commands: set[str] = field(default_factory=set)  # the commands run: "plan", "webhook serve" ...
    seconds: dict[str, float] = field(default_factory=dict)

    def normalise(self, text: str) -> str:
        for value, placeholder in self.values:
            text = text.replace(value, placeholder)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def run(self, name: str, *args: str, cwd: Path, expect: int, stderr: bool = False,
            files: tuple[str, ...] = ()) -> None:
        """Run ``mlmeta ARGS`` in ``cwd`` as step ``name``, expecting exit code ``expect``; record the
        command line, the exit code, stdout, stderr (``stderr``: only where it is the command's JSON
        channel) and the ``files`` it wrote."""
        assert name not in self.stdout, f"two steps named {name}"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mlmeta", *args], cwd=cwd,  # nosec B603
                              env=self.env, capture_output=True, text=True, timeout=120)
        self.seconds[name] = time.perf_counter() - started
        text = f"$ cd {cwd.relative_to(self.tmp)} && mlmeta {' '.join(args)}\nexit: {done.returncode}\n"
        text += f"--- stdout\n{done.stdout}"
        if stderr:
            text += f"--- stderr\n{done.stderr}"
        for written in files:
            text += f"--- file {written}\n{(cwd / written).read_text(encoding='utf-8')}"
        self.records[f"{len(self.records) + 1:02d}-{name}"] = self.normalise(text)
        self.stdout[name] = done.stdout
        self.commands.add(" ".join(args[:2]) if args[0] == "webhook" and not args[1].startswith("-") else args[0])
        assert done.returncode == expect, (f"{name}: mlmeta {' '.join(args)} exited {done.returncode}, not {expect}",
                                           done.stdout[-3000:], done.stderr[-3000:])


def compare(records: dict[str, str], actual: Path) -> None:
    if RECORD:
        GOLDEN.mkdir(exist_ok=True)
        for stale in GOLDEN.glob("*.txt"):
            stale.unlink()
        for name, text in records.items():
            (GOLDEN / f"{name}.txt").write_text(text, encoding="utf-8")
        return
    differences = []
    recorded = {path.stem for path in GOLDEN.glob("*.txt")}
    for name, text in records.items():
        path = GOLDEN / f"{name}.txt"
        expected = path.read_text(encoding="utf-8") if path.exists() else ""
        if text != expected:
            differences.append("".join(difflib.unified_diff(
                expected.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=f"golden/{name}.txt", tofile=f"{name} (this run)")) or f"{name}: differs in line endings")
    for name in sorted(recorded - set(records)):
        differences.append(f"golden/{name}.txt: no step produced it")
    if differences:
        actual.mkdir(exist_ok=True)
        for name, text in records.items():
            (actual / f"{name}.txt").write_text(text, encoding="utf-8")
        pytest.fail(f"{len(differences)} output(s) changed; this run's are in {actual} (MLMETA_RECORD_GOLDEN=1 "
                    "re-records the golden files, if the change is meant):\n\n" + "\n".join(differences), pytrace=False)


def clean_env(environ: dict[str, str]) -> dict[str, str]:
    """This process's environment without any setting mlmeta reads from it, a fixed width for help."""
    env = {k: v for k, v in environ.items()
           if not k.startswith(("OPENMETADATA_", "MLFLOW_", "MLMETA_", "GITHUB_", "MODEL_REGISTRY_"))}
    return {**env, **GIT_IDENTITY, "COLUMNS": "100", "PYTHONWARNINGS": "ignore"}


def catalog(sandbox: SandboxProcess, method: str, path: str, body: object = None) -> dict:
    """A request to the sandbox's API as its admin: what a person does in OpenMetadata's UI. (Plain
    HTTP rather than tests/test_pull.py's helper: that module imports mlmeta internals the
    restructuring moves, and this test must import as little of mlmeta as it can.)"""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{sandbox.api_url}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {sandbox.token('admin')}", "Content-Type": "application/json-patch+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # nosec B310 - the sandbox this test started
        return json.load(answer)


# --- the sequence ----------------------------------------------------------------------------------


@pytest.mark.timeout(900)  # about 90 s on an idle 2-core machine; much more when it is busy
def test_outputs_are_unchanged(servers, tmp_path):
    main, other = make_projects(tmp_path)
    steps = Steps(tmp_path, clean_env(servers.environ), values=[(str(tmp_path), "<tmp>")])
    run = steps.run
    J = ("--format", "json")

    # offline, while the servers start and the models train
    run("version", "--version", cwd=main, expect=0)
    run("help", "--help", cwd=main, expect=0)
    run("webhook-help", "webhook", "--help", cwd=main, expect=0)
    run("validate", "validate", *J, cwd=main, expect=0)
    run("validate-broken", "validate", "broken", *J, cwd=main, expect=1)
    run("validate-broken-github", "validate", "broken", "--format", "github", cwd=main, expect=1)
    run("validate-other", "validate", *J, cwd=other, expect=0)
    run("schema", "schema", cwd=main, expect=0)
    run("explain-code", "explain", "r002", *J, cwd=main, expect=0)
    run("explain-all", "explain", *J, cwd=main, expect=0)
    run("explain-unknown", "explain", "R99", *J, cwd=main, expect=2)
    run("graph", "graph", *J, cwd=main, expect=0)
    run("graph-other", "graph", *J, cwd=other, expect=0)
    run("graph-other-mermaid", "graph", cwd=other, expect=0)
    run("convert", "convert", "demo/ml_model.yaml", *J, cwd=main, expect=0)
    run("completion", "completion", "bash", cwd=main, expect=0)
    run("card-offline", "card", "model_specs/delivery_time.yaml", *J, cwd=main, expect=0)
    run("bad-setting", "validate", *J, cwd=tmp_path / "bad-settings", expect=2)
    run("bad-option", "plan", "--concurrency", "0", *J, cwd=main, expect=2)

    # the demo's servers and environment (the bot's token in a file)
    offline_done = time.perf_counter()
    demo = servers.ready()
    waited = time.perf_counter() - offline_done
    mlflow_server, sandbox, registry = demo.mlflow, demo.sandbox, demo.registry
    for server, placeholder in ((mlflow_server, "<mlflow-port>"), (sandbox, "<sandbox-port>")):
        steps.values.append((f"127.0.0.1:{server.url.rsplit(':', 1)[1]}", f"127.0.0.1:{placeholder}"))
    for name, version in demo.versions.items():
        model_id = version["source"].removeprefix("models:/")
        steps.values += [(version["run_id"], f"<run-id:{name}>"), (model_id, f"<logged-model:{name}>")]
        # a change's summary cuts long values short: "m-0123456789abcde..."
        steps.values += [(model_id[:length] + "...", f"<logged-model:{name}>...") for length in range(8, 32)]
    steps.env.update(OPENMETADATA_HOST=sandbox.url, OPENMETADATA_JWT_TOKEN_FILE=str(sandbox.bot_token_file),
                     MLFLOW_TRACKING_URI=mlflow_server.url)

    run("doctor-before-setup", "doctor", *J, cwd=main, expect=0)
    run("setup-dry-run", "setup", "--dry-run", *J, cwd=main, expect=0)
    run("setup", "setup", *J, cwd=main, expect=0)
    run("setup-again", "setup", *J, cwd=main, expect=0)
    run("validate-online", "validate", "--online", *J, cwd=main, expect=0)
    run("plan", "plan", *J, cwd=main, expect=0)
    run("plan-text", "plan", cwd=main, expect=0)
    run("plan-saved", "plan", "-o", "plan.json", *J, cwd=main, files=("plan.json",), expect=0)
    run("publish-saved-plan", "publish", "--plan", "plan.json", *J, cwd=main, expect=0)
    run("publish-unchanged", "publish", "--all", *J, cwd=main, expect=0)
    run("publish-stale-plan", "publish", "--plan", "plan.json", *J, cwd=main, expect=1)
    run("other-publish", "publish", "--all", *J, cwd=other, expect=0)
    run("drift-clean", "drift", *J, cwd=main, expect=0)
    run("card", "card", "model_specs/delivery_time.yaml", *J, cwd=main, expect=0)
    run("init", "init", "--from-registry", "delivery_time", "-o", "drafts/delivery_time.yaml", *J, cwd=main,
        expect=0)

    # ownership: the streaming team hands bot_detector over to this project
    run("import-documented", "import", "mlflow_models.delivery_time", *J, cwd=main, expect=1)
    run("import-owned-elsewhere", "import", "mlflow_models.bot_detector", *J, cwd=main, expect=1)
    run("adopt-owned-elsewhere", "adopt", "mlflow_models.bot_detector", "--dry-run", *J, cwd=main, expect=1)
    run("adopt-from-dry-run", "adopt", "--from", "streaming-team", "mlflow_models.bot_detector", "--dry-run", *J,
        cwd=main, expect=0)
    run("adopt-from", "adopt", "--from", "streaming-team", "mlflow_models.bot_detector", *J, cwd=main, expect=0)
    run("import", "import", "mlflow_models.bot_detector", *J, cwd=main, expect=0)
    run("other-plan-claimed", "plan", *J, cwd=other, expect=1)
    run("publish-imported", "publish", "--all", *J, cwd=main, expect=0)

    # someone improves texts in the catalog's UI: drift sees it, pull brings them into the spec
    model = catalog(sandbox, "GET", "/v1/mlmodels/name/mlflow_models.delivery_time")
    catalog(sandbox, "PATCH", f"/v1/mlmodels/{model['id']}", [
        {"op": "replace", "path": "/description", "value": model["description"].replace(
            "so the app can\npromise a realistic delivery window.",
            "so the app can\npromise a realistic delivery window.\n\nThe checkout page shows it.")},
        {"op": "replace", "path": "/mlFeatures/0/description",
         "value": "Hour of the day the order last changed, in five buckets."}])
    run("drift-edited", "drift", *J, cwd=main, expect=1)
    run("pull-dry-run", "pull", "--dry-run", *J, cwd=main, expect=0)
    run("pull", "pull", *J, cwd=main, expect=0)
    run("plan-after-pull", "plan", "--changed-since", "HEAD", *J, cwd=main, expect=0)

    # a new version of delivery_time reaches Production (the same run, registered again); watch follows
    run("watch-first", "watch", "--once", *J, cwd=main, stderr=True, expect=0)
    first = demo.versions["delivery_time"]
    registry.logged = [(first["source"], first["run_id"], first["source"].removeprefix("models:/"))]
    registry.alias("delivery_time", registry.register("delivery_time"))
    run("drift-promoted", "drift", *J, cwd=main, expect=1)
    run("watch-promoted", "watch", "--once", *J, cwd=main, stderr=True, expect=0)
    run("publish-after-watch", "publish", "--all", *J, cwd=main, expect=0)

    # the streaming spec leaves this project: prune
    (main / "model_specs" / "bot_detector.yaml").unlink()
    run("plan-prune", "plan", "--prune", *J, cwd=main, expect=0)
    run("publish-prune-dry-run", "publish", "--all", "--prune", "--dry-run", *J, cwd=main, expect=0)
    run("publish-prune", "publish", "--all", "--prune", *J, cwd=main, expect=0)

    # Production lost: no version carries the alias any more
    registry.client.delete_registered_model_alias("delivery_time", "champion")
    run("plan-not-in-production", "plan", *J, cwd=main, expect=0)
    run("publish-require-production", "publish", "--all", "--require-production", *J, cwd=main, expect=1)

    # the servers go down
    sandbox.stop()
    run("publish-catalog-down", "publish", "--all", *J, cwd=main, expect=2)
    run("doctor-catalog-down", "doctor", *J, cwd=main, expect=1)
    mlflow_server.stop()
    run("validate-online-both-down", "validate", "--online", *J, cwd=main, expect=2)
    run("card-registry-down", "card", "model_specs/delivery_time.yaml", *J, cwd=main, expect=2)

    missing = commands_listed(steps) - steps.commands - set(NOT_RUN)
    assert not missing, f"commands of mlmeta --help that no step runs (add one, or to NOT_RUN saying why): {missing}"
    slowest = sorted(steps.seconds.items(), key=lambda item: -item[1])
    print(f"\n{len(steps.seconds)} commands in {sum(steps.seconds.values()):.1f} s (then {waited:.1f} s waiting for "
          f"the servers and the trained models after the offline steps); the slowest: "
          + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in slowest[:6]))
    compare(steps.records, tmp_path / "actual-outputs")


def commands_listed(steps: Steps) -> set[str]:
    """The commands ``mlmeta --help`` and ``mlmeta webhook --help`` list."""
    def listed(text: str) -> list[str]:
        block = text.split("Commands:\n", 1)[1]
        return [line.split()[0] for line in block.splitlines() if line.startswith("  ") and line.strip()]

    return ({name for name in listed(steps.stdout["help"]) if name != "webhook"}
            | {f"webhook {name}" for name in listed(steps.stdout["webhook-help"])})
