"""Shared fixtures, the servers included (each started once per session, or once per xdist worker),
and the hook that gives every test its tier marker: ``unit``, ``integration`` or ``e2e``.

A test's tier comes from where it lives (``tests/unit/``, ``tests/integration/``, ``tests/e2e/``) and,
outside those folders (``tests/security/``), from the fixtures it uses: one that starts a server makes
it an integration test. So the markers cannot drift from what a test really needs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers.files import REPO
from tests.helpers.projects import make_project

TIERS = ("unit", "integration", "e2e")
# the fixtures that start a server process; a test using one, directly or through another fixture, needs a server
SERVER_FIXTURES = frozenset({"sandbox_server", "mlflow_server", "kafka_broker",
                             # tests/security/'s own: the stand-ins as processes, and failing HTTP servers
                             "standin", "failing_servers"})

os.environ.setdefault("MLMETA_TESTING", "1")


def tier_of(path: Path, fixturenames) -> str:
    """The tier of a test at ``path`` using ``fixturenames``; a unit test that needs a server is refused."""
    folders = path.resolve().relative_to(REPO / "tests").parts[:-1]
    servers = sorted(SERVER_FIXTURES.intersection(fixturenames))
    tier = folders[0] if folders and folders[0] in TIERS else ("integration" if servers else "unit")
    if tier == "unit" and servers:
        raise pytest.UsageError(f"{path.relative_to(REPO)}: a unit test may not start a server, and it uses "
                                f"{', '.join(servers)}; move it to tests/integration/ (or tests/e2e/)")
    return tier


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(tier_of(Path(item.path), item.fixturenames))
    # the longest first (a module says so with ``RUNS_LONGEST = True``: the walkthrough's install),
    # then the other e2e tests: they overlap the rest on the other worker instead of ending the run
    # alone (a stable sort: each file stays together)
    items.sort(key=lambda item: (not getattr(getattr(item, "module", None), "RUNS_LONGEST", False),
                                 item.get_closest_marker("e2e") is None))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A unit test that brings in the OpenMetadata SDK (seconds to import) fails, naming where it belongs.
    Seen only where nothing imported the SDK before it: in ``make test-fast``, which is what it keeps fast."""
    sdk_before = "metadata" in sys.modules
    result = yield
    if item.get_closest_marker("unit") and not sdk_before and "metadata" in sys.modules:
        pytest.fail("this unit test imported the OpenMetadata SDK (seconds): move it to tests/integration/",
                    pytrace=False)
    return result


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def cli(monkeypatch):
    """Run mlmeta in-process: ``cli("validate", "x.yaml")`` -> result with exit_code, stdout, stderr."""
    from mlmeta.cli import app

    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Work in an empty folder without any project file above it mattering."""
    monkeypatch.chdir(tmp_path)
    for var in ("OPENMETADATA_HOST", "OPENMETADATA_JWT_TOKEN", "OPENMETADATA_JWT_TOKEN_FILE", "MLFLOW_TRACKING_URI",
                "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


# --- the OpenMetadata sandbox, shared by the whole session (the SDK import costs seconds) ------------


@pytest.fixture(scope="session")
def sandbox_server():
    from mlmeta.standins.openmetadata import Sandbox

    with Sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """The session's sandbox, back at the seed catalog with no faults and zero counters."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def om(sandbox):
    """``om("admin")`` -> an SDK client acting as that user (default: the mlmeta-bot bot)."""

    return sandbox.client


# --- a real MLflow server, shared by the session, with two logged runs of the example model --------


@pytest.fixture
def env(sandbox, mlflow_server, in_tmp):
    """The environment mlmeta needs to reach the test servers, as the bot, from a project folder."""
    return {"OPENMETADATA_HOST": sandbox.url, "OPENMETADATA_JWT_TOKEN": sandbox.token("mlmeta-bot"),
            "MLFLOW_TRACKING_URI": mlflow_server.url}


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    from mlmeta.demo.services import MlflowServer

    with MlflowServer(tmp_path_factory.mktemp("mlflow"), local_webhooks=True) as server:
        yield server


@pytest.fixture(scope="session")
def logged_models(mlflow_server):
    """Two runs of examples/train.py's model (20 and 40 trees): ``[(model_uri, run_id, model_id), ...]``."""
    import importlib.util

    import mlflow

    spec = importlib.util.spec_from_file_location("example_train", REPO / "examples" / "train.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment("mlmeta-tests")
    logged = []
    for trees in (20, 40):
        model, sample, metrics = example.train(trees, 0.1, 3)
        with mlflow.start_run(run_name=f"gbr-{trees}") as run:
            mlflow.log_params({"n_estimators": trees, "learning_rate": 0.1, "max_depth": 3})
            mlflow.log_metrics(metrics)
            mlflow.set_tag("estimator_name", "GradientBoostingRegressor")
            info = mlflow.sklearn.log_model(model, name="model", serialization_format="cloudpickle",
                                            signature=mlflow.models.infer_signature(sample, model.predict(sample)))
        logged.append((info.model_uri, run.info.run_id, info.model_id))
    return logged


class Registry:
    """Registers versions of the logged runs and promotes them, as a team's training job would."""

    def __init__(self, url: str, logged: list[tuple[str, str, str]]) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(url)
        self.logged = logged

    def register(self, name: str, run: int = 0) -> str:
        try:
            self.client.create_registered_model(name)
        except Exception:  # noqa: BLE001 - already there
            pass
        source, run_id, model_id = self.logged[run]
        return self.client.create_model_version(name, source=source, run_id=run_id, model_id=model_id).version

    def alias(self, name: str, version: str, alias: str = "champion") -> None:
        self.client.set_registered_model_alias(name, alias, version)

    def stage(self, name: str, version: str, stage: str = "Production") -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.client.transition_model_version_stage(name, version, stage)


@pytest.fixture
def registry(mlflow_server, logged_models):
    return Registry(mlflow_server.url, logged_models)


@pytest.fixture
def project_factory(in_tmp, registry, sandbox, mlflow_server, monkeypatch):
    """``project_factory(prefix, count)``: specs whose registered models exist in MLflow, and the environment
    mlmeta reads (the trigger tests, integration and e2e)."""
    return lambda prefix, count: make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, prefix, count)


# --- Apache Kafka's own broker (KRaft), for the Kafka event sink ------------------------------------


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    from mlmeta.demo.services import KafkaBroker

    with KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker
