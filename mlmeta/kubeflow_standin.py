"""A stand-in of the Kubeflow Model Registry REST API, for tests and the example under
``examples/kubeflow/``: ``python -m mlmeta.kubeflow_standin [--port N] [--token T]``.

It serves what the MLflow plugin (``model-registry-mlflow``, ``/api/model_registry/v1alpha3`` only),
the official client and mlmeta use, under both ``/api/model_registry/v1alpha3`` and ``/v1``, as the
server does (v1alpha3 being deprecated there).

Semantics follow the server's code as read (notes: /work/kfmr-notes/server.md, plugin.md): ids are
integer strings from two counters (entities; artifacts), timestamps are epoch milliseconds as
strings, names are unique (409), a find that matches nothing is 404 with "not found" in the
message, lists page with ``nextPageToken`` ("" on the last page; ``pageToken`` accepted too, as the
MLflow plugin sends it), errors are ``{"code", "message"}``, every answer is JSON, never a 5xx.
Request bodies are checked with the official client's generated models (``mr_openapi``) when it is
installed.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PREFIXES = ("/api/model_registry/v1alpha3", "/api/model_registry/v1")
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict", 422: "Bad Request"}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return str(int(time.time() * 1000))


def _check(model: str, body: Any) -> None:
    """The official client's model for this body, when installed: an unknown key or a wrong type is 400."""
    try:
        import mr_openapi
    except ImportError:  # pragma: no cover - the dev extra installs it
        return
    kind = getattr(mr_openapi, model)
    try:
        kind.from_dict(body)
    except Exception as error:  # noqa: BLE001 - pydantic and the oneOf wrappers raise several kinds
        raise ApiError(400, f"invalid {model}: {str(error).splitlines()[0]}") from None
    known = {field.alias or name for name, field in kind.model_fields.items()}
    if "actual_instance" not in known and isinstance(body, dict) and set(body) - known:
        # the generated models ignore unknown keys; the server's JSON decoder refuses them
        raise ApiError(400, f"json: unknown field {sorted(set(body) - known)[0]!r}")


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._ids = {"entity": 0, "artifact": 0}
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.artifacts: dict[str, dict] = {}
        self.run_artifacts: dict[str, list[str]] = {}  # run id -> artifact ids
        self.history: dict[str, list[dict]] = {}  # run id -> metric history rows
        self.models: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}
        self.version_artifacts: dict[str, list[str]] = {}
        self.new_experiment({"name": "Default"})  # MLflow's experiment "0" is looked up without being made

    def copy(self) -> State:
        """An independent copy (a test's own registry, starting from a shared trained one)."""
        import copy

        twin = State.__new__(State)
        twin.__dict__.update({k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "lock"})
        twin.lock = threading.Lock()
        return twin

    def next_id(self, kind: str) -> str:
        self._ids[kind] += 1
        return str(self._ids[kind])

    def stamp(self, item: dict, kind: str, **defaults: Any) -> dict:
        now = _now()
        item = {**defaults, **item, "id": self.next_id(kind), "createTimeSinceEpoch": now,
                "lastUpdateTimeSinceEpoch": now}
        item.setdefault("customProperties", {})
        return item

    def new_experiment(self, body: dict) -> dict:
        if any(e["name"] == body.get("name") for e in self.experiments.values()):
            raise ApiError(409, f"experiment with name {body.get('name')} already exists")
        experiment = self.stamp(body, "entity", state="LIVE")
        if not self.experiments:
            experiment["id"] = "0"
        self.experiments[experiment["id"]] = experiment
        return experiment


def _page(items: list[dict], query: dict[str, str]) -> dict:
    """A list answer; ``pageSize`` items from the token on (ids ascending, as the server's default)."""
    items = sorted(items, key=lambda item: int(item["id"]))
    size = int(query.get("pageSize") or 0)
    token = query.get("nextPageToken") or query.get("pageToken") or ""
    start = int(token) if token.isdigit() else 0
    chosen = items[start:start + size] if size else items[start:]
    following = start + len(chosen)
    return {"items": chosen, "nextPageToken": str(following) if size and following < len(items) else "",
            "pageSize": size, "size": len(chosen)}


def _patch(item: dict, body: dict) -> dict:
    """Only non-null fields are applied; a customProperties map replaces the old one."""
    item.update({k: v for k, v in body.items() if v is not None and k != "id"})
    item["lastUpdateTimeSinceEpoch"] = _now()
    return item


def _found(table: dict[str, dict], key: str, what: str) -> dict:
    if key not in table:
        raise ApiError(404, f"{what} with id {key}: not found")
    return table[key]


class Api:
    """The routes, on one State."""

    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        handler = getattr(self, f"{method.lower()}_{parts[0]}", None)
        if handler is None:
            raise ApiError(404, f"{method} {path}: not found")
        with self.state.lock:
            return handler(parts[1:], query, body)

    # --- experiments --------------------------------------------------------------------------

    def post_experiments(self, rest, query, body):
        _check("ExperimentCreate", body)
        return 201, self.state.new_experiment(body)

    def get_experiments(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.experiments.values()), query)
        experiment = _found(self.state.experiments, rest[0], "experiment")
        if len(rest) > 1 and rest[1] == "experiment_runs":
            return 200, _page([r for r in self.state.runs.values() if r["experimentId"] == experiment["id"]], query)
        return 200, experiment

    def get_experiment(self, rest, query, body):
        found = [e for e in self.state.experiments.values() if e["name"] == query.get("name")
                 or (query.get("externalId") and e.get("externalId") == query.get("externalId"))]
        if len(found) != 1:
            raise ApiError(404, f"no experiments found for name={query.get('name', '')}: not found")
        return 200, found[0]

    def patch_experiments(self, rest, query, body):
        _check("ExperimentUpdate", body)
        return 200, _patch(_found(self.state.experiments, rest[0], "experiment"), body)

    # --- experiment runs ----------------------------------------------------------------------

    def post_experiment_runs(self, rest, query, body):
        if rest:
            return self._post_run_artifact(rest[0], body)
        _check("ExperimentRunCreate", body)
        _found(self.state.experiments, str(body.get("experimentId")), "experiment")
        if any(r["experimentId"] == body["experimentId"] and r.get("name") == body.get("name")
               for r in self.state.runs.values()):
            raise ApiError(409, f"experiment run with name {body.get('name')} already exists")
        run = self.state.stamp(body, "entity", state="LIVE", status="RUNNING")
        self.state.runs[run["id"]] = run
        self.state.run_artifacts[run["id"]] = []
        return 201, run

    def get_experiment_runs(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.runs.values()), query)
        run = _found(self.state.runs, rest[0], "experiment run")
        if len(rest) == 1:
            return 200, run
        if rest[1] == "artifacts":
            items = [self.state.artifacts[a] for a in self.state.run_artifacts[run["id"]]]
            if query.get("artifactType"):
                items = [a for a in items if a["artifactType"] == query["artifactType"]]
            return 200, _page(items, query)
        if rest[1] == "metric_history":
            rows = [r for r in self.state.history.get(run["id"], []) if r["name"] == query.get("name", r["name"])]
            if query.get("stepIds"):
                steps = {int(s) for s in query["stepIds"].split(",") if s}
                rows = [r for r in rows if r["step"] in steps]
            return 200, _page(rows, query)
        raise ApiError(404, f"experiment run {rest[1]}: not found")

    def patch_experiment_runs(self, rest, query, body):
        _check("ExperimentRunUpdate", body)
        return 200, _patch(_found(self.state.runs, rest[0], "experiment run"), body)

    def _post_run_artifact(self, run_id: str, body: dict):
        """Upsert: an ``id`` updates that artifact and links it to the run; a metric or parameter of
        a name the run has updates it; a metric write also appends a metric history row."""
        run = _found(self.state.runs, run_id, "experiment run")
        linked = self.state.run_artifacts[run_id]
        if body.get("id"):
            artifact = _patch(_found(self.state.artifacts, str(body["id"]), "artifact"), body)
        else:
            _check("ArtifactCreate", body)
            same = [self.state.artifacts[a] for a in linked if self.state.artifacts[a]["artifactType"]
                    == body.get("artifactType") and self.state.artifacts[a].get("name") == body.get("name")]
            if same and body.get("artifactType") in ("metric", "parameter"):
                artifact = _patch(same[0], body)
            elif same:
                raise ApiError(409, f"artifact with name {body.get('name')} already exists in this run")
            else:
                artifact = self.state.stamp(body, "artifact", state="UNKNOWN")
                self.state.artifacts[artifact["id"]] = artifact
        artifact.update(experimentId=run["experimentId"], experimentRunId=run_id)
        if artifact["id"] not in linked:
            linked.append(artifact["id"])
        if artifact["artifactType"] == "metric":
            history = self.state.history.setdefault(run_id, [])
            history.append({**artifact, "id": str(len(history) + 1)})
        return 200, artifact

    # --- artifacts ----------------------------------------------------------------------------

    def get_artifacts(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.artifacts.values()), query)
        return 200, _found(self.state.artifacts, rest[0], "artifact")

    def get_model_artifact(self, rest, query, body):
        return self.get_artifact(rest, {**query, "artifactType": "model-artifact"}, body)

    def get_artifact(self, rest, query, body):
        """Find by name within a parent (a model version's artifacts) or by externalId."""
        owned = self.state.version_artifacts.get(query.get("parentResourceId") or "", [])
        candidates = [self.state.artifacts[a] for a in owned] if query.get("parentResourceId") else \
            list(self.state.artifacts.values())
        found = [a for a in candidates if (not query.get("name") or a.get("name") == query["name"])
                 and (not query.get("externalId") or a.get("externalId") == query["externalId"])
                 and (not query.get("artifactType") or a["artifactType"] == query["artifactType"])]
        if len(found) != 1:
            raise ApiError(404, f"no artifacts found for name={query.get('name', '')}: not found")
        return 200, found[0]

    def patch_artifacts(self, rest, query, body):
        return 200, _patch(_found(self.state.artifacts, rest[0], "artifact"), body)

    # --- registered models and versions -------------------------------------------------------

    def post_registered_models(self, rest, query, body):
        if rest:  # POST /registered_models/{id}/versions
            body = {**body, "registeredModelId": rest[0]}
            return self.post_model_versions([], query, body)
        _check("RegisteredModelCreate", body)
        if any(m["name"] == body.get("name") for m in self.state.models.values()):
            raise ApiError(409, f"registered model with name {body.get('name')} already exists")
        model = self.state.stamp(body, "entity", state="LIVE")
        self.state.models[model["id"]] = model
        return 201, model

    def get_registered_models(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.models.values()), query)
        model = _found(self.state.models, rest[0], "registered model")
        if len(rest) > 1 and rest[1] == "versions":
            versions = [v for v in self.state.versions.values() if v["registeredModelId"] == model["id"]]
            if query.get("name"):
                versions = [v for v in versions if v["name"] == query["name"]]
            return 200, _page(versions, query)
        return 200, model

    def get_registered_model(self, rest, query, body):
        found = [m for m in self.state.models.values() if m["name"] == query.get("name")]
        if len(found) != 1:
            raise ApiError(404, f"no registered models found for name={query.get('name', '')}: not found")
        return 200, found[0]

    def patch_registered_models(self, rest, query, body):
        _check("RegisteredModelUpdate", body)
        return 200, _patch(_found(self.state.models, rest[0], "registered model"), body)

    def post_model_versions(self, rest, query, body):
        if rest:  # POST /model_versions/{id}/artifacts
            version = _found(self.state.versions, rest[0], "model version")
            _check("ArtifactCreate", body)
            artifact = self.state.stamp(body, "artifact", state="UNKNOWN")
            self.state.artifacts[artifact["id"]] = artifact
            self.state.version_artifacts.setdefault(version["id"], []).append(artifact["id"])
            return 201, artifact
        _check("ModelVersionCreate", body)
        model = _found(self.state.models, str(body.get("registeredModelId")), "registered model")
        if any(v["registeredModelId"] == model["id"] and v["name"] == body.get("name")
               for v in self.state.versions.values()):
            raise ApiError(409, f"model version with name {body.get('name')} already exists")
        version = self.state.stamp(body, "entity", state="LIVE")
        self.state.versions[version["id"]] = version
        return 201, version

    def get_model_versions(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.versions.values()), query)
        version = _found(self.state.versions, rest[0], "model version")
        if len(rest) > 1 and rest[1] == "artifacts":
            return 200, _page([self.state.artifacts[a] for a in self.state.version_artifacts.get(version["id"], [])],
                              query)
        return 200, version

    def get_model_version(self, rest, query, body):
        found = [v for v in self.state.versions.values() if v["name"] == query.get("name")
                 and v["registeredModelId"] == query.get("parentResourceId")]
        if len(found) != 1:
            raise ApiError(404, f"no model versions found for name={query.get('name', '')}: not found")
        return 200, found[0]

    def patch_model_versions(self, rest, query, body):
        _check("ModelVersionUpdate", body)
        return 200, _patch(_found(self.state.versions, rest[0], "model version"), body)


class _Handler(BaseHTTPRequestHandler):
    api: Api
    token: str | None = None

    def log_message(self, *args: Any) -> None:  # quiet: tests read the answers, not a log
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        prefix = next((p for p in PREFIXES if parts.path.startswith(p + "/")), None)
        try:
            if prefix is None:
                raise ApiError(404, f"{parts.path}: not found")
            if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
                # kube-rbac-proxy in front of the server answers this way (the server has no auth of its own)
                raise ApiError(401, "Unauthorized: the bearer token is missing or not accepted")
            length = int(self.headers.get("Content-Length") or 0)
            text = self.rfile.read(length).decode() if length else ""
            try:
                body = json.loads(text) if text else {}
            except ValueError:
                raise ApiError(400, "the body is not JSON") from None
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            status, answer = self.api.handle(self.command, parts.path[len(prefix):], query, body)
        except ApiError as error:
            status, answer = error.status, {"code": STATUS_TEXT.get(error.status, "Error"), "message": error.message}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve


class StandIn:
    """``with StandIn() as registry: registry.url`` - on 127.0.0.1, a free port, stopped on exit."""

    def __init__(self, port: int = 0, *, token: str | None = None, state: State | None = None) -> None:
        self.state = state or State()
        handler = type("Handler", (_Handler,), {"api": Api(self.state), "token": token})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="kfmr-standin", daemon=True)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def main(argv: list[str] | None = None) -> None:
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m mlmeta.kubeflow_standin",
                                     description="A Kubeflow Model Registry stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--token", help="the bearer token to require (default: none)")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with StandIn(args.port, token=args.token) as standin:
        print(standin.url, flush=True)  # the first line says where it listens
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
