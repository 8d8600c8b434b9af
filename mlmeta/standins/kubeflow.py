"""A stand-in of the Kubeflow Model Registry (KF MR) REST API, for tests and the example under
``examples/kubeflow/``: ``python -m mlmeta.standins.kubeflow [--port N] [--token T]``.

It serves what the registry's MLflow plugin (``model-registry-mlflow`` 0.0.1: experiments, runs,
their artifacts), the official client (``model-registry``: registered models, versions, their
artifacts) and mlmeta use. The server itself cannot be had here (its Go module is refused by the
proxy, and no image can be pulled), so its behaviour comes from its published sources, cited below
as ``path@commit`` of the ``kubeflow/model-registry`` repository (read with ``search``), and from
the client's wheel:

- routes under ``/api/model_registry/v1`` and the deprecated ``/v1alpha3`` (the plugin's only
  prefix); ``v1alpha3`` answers carry ``Deprecation``, ``Sunset`` and a ``Link`` to v1 (the
  deprecation middleware's unit test: prefix ``/api/model_registry/v1alpha3/``, successor v1);
- every request body is checked with the client's generated models (``mr_openapi`` of
  model-registry 0.3.14, the last release speaking ``v1alpha3``): a wrong type is 400, a missing
  required field 422 (``templates/go-server/error.mustache@4a84fd1``, asserted by
  ``test/robot/Regression.robot@325f26f``), an unknown key 400 "json: unknown field" (bodies are
  decoded with ``DisallowUnknownFields``);
- ids are decimal strings of two sequences: one shared by registered models, versions,
  experiments and runs (they all live in the ``Context`` table), one by every kind of artifact
  (``internal/platform/db/mysql/migrations/000005_create_context_table.up.sql@fb0c297``,
  ``000001_create_artifact_table.up.sql@2c30f77``); an id that is not a number is 400
  (``internal/platform/apiutils/api_utils.go@08f0650``), an unknown one 404 "no registered model
  found for id 7: not found" (``internal/core/registered_model.go@08f0650``);
- names are unique: registered models and experiments globally, versions per registered model,
  an artifact per (version, artifact type), runs per experiment; a duplicate is 409 "... already
  exists: conflict" (``internal/core/model_version.go@9282744``, ``internal/core/artifact.go@c62304c``);
- timestamps are epoch milliseconds as strings; an update keeps the creation time and bumps the
  update time (``internal/platform/db/repository/generic_repository.go@08f0650``);
- ``state`` defaults to LIVE for models and versions, UNKNOWN for artifacts
  (``pkg/openapi/model_model_version.go@c62304c``); ``customProperties`` is always answered
  (``{}`` when empty), and a PATCH that carries it replaces the whole map, one without it keeps it
  (``internal/core/registered_model.go@08f0650``); a PATCH applies only the fields it carries
  (``internal/converter/openapi_reconciler.go@51e6c9f``);
- an artifact upsert under a version or run with an ``id`` updates that artifact; a metric or
  parameter of a name the run has is updated in place, and a metric write adds a history row; the
  answer is 201 only when a model or doc artifact was created, else 200
  (``internal/server/openapi/api_model_registry_service_service.go@198a857``);
- lists page by ``pageSize`` (0 or absent: everything) and ``nextPageToken`` (``""`` on the last
  page), the token being base64 of ``<last id>:<last id>`` and the next page the ids after it
  (``generic_repository.go@08f0650`` ``List``, ``internal/platform/db/entity/pagination.go@2c30f77``);
  a ``pageSize`` that is not a number is 400 "invalid numeric string";
- a find (``/registered_model?name=``, ``/model_version?name=&parentResourceId=``,
  ``/model_artifact``, ``/artifact``, ``/experiment``) needs its parameters (400), and answers 404
  "... not found" for none (``internal/core/model_version.go@9282744``);
- errors are ``{"code": <HTTP status text>, "message": ...}`` (``templates/go-server/helpers.mustache@4a84fd1``),
  with 422's code "Bad Request" as the server writes it; every answer is JSON.

Where the stand-in departs from the server, it says so where it does: a bad page token is 400
here (a 500 there), the experiment "0" (MLflow's default experiment, which the plugin reads
without creating it) exists from the start, and a version naming an unknown registered model is
404 (the server's core does not check, and fails in its database). The server has no
authentication of its own; ``--token`` plays the kube-rbac-proxy in front of it (401).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlmeta.standins import http_input

V1 = "/api/model_registry/v1"
V1ALPHA3 = "/api/model_registry/v1alpha3"
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict",
               413: "Request Entity Too Large", 422: "Bad Request", 501: "Not Implemented"}
CREATED_ON_UPSERT = ("model-artifact", "doc-artifact")  # the kinds whose creation by upsert answers 201


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now() -> str:
    return str(int(time.time() * 1000))


def _check(model: str, body: Any) -> None:
    """The official client's model for this body: a wrong type is 400, a missing required field 422,
    an unknown key 400 (the generated models ignore unknown keys; the server's decoder refuses them)."""
    import mr_openapi
    from pydantic import ValidationError

    kind = getattr(mr_openapi, model)
    try:
        kind.from_dict(body)
    except ValidationError as error:
        # from_dict passes an absent field as None: a required field without a value
        missing = [e for e in error.errors() if e["type"] == "missing" or e.get("input", "") is None]
        if missing:
            raise ApiError(422, f"required field '{missing[0]['loc'][-1]}' is zero value.") from None
        raise ApiError(400, f"invalid {model}: {str(error).splitlines()[0]}") from None
    except Exception as error:  # noqa: BLE001 - the oneOf wrappers raise ValueError and others
        raise ApiError(400, f"invalid {model}: {str(error).splitlines()[0]}") from None
    known = {field.alias or name for name, field in kind.model_fields.items()}
    if "actual_instance" not in known and isinstance(body, dict) and set(body) - known:
        raise ApiError(400, f"json: unknown field {sorted(set(body) - known)[0]!r}")


def _id(text: str, what: str) -> str:
    if not text.isdigit() or int(text) > 2**31 - 1:
        raise ApiError(400, f"invalid {what} ID: strconv.ParseInt: parsing {text!r}: invalid syntax: bad request")
    return text


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._ids = {"context": 0, "artifact": 0}
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.artifacts: dict[str, dict] = {}
        self.run_artifacts: dict[str, list[str]] = {}  # run id -> artifact ids
        self.history: dict[str, list[dict]] = {}  # run id -> metric history rows
        self.models: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}
        self.version_artifacts: dict[str, list[str]] = {}  # version id -> artifact ids
        default = self.stamp({"name": "Default", "description": "MLflow's default experiment"}, "context",
                             state="LIVE")
        default["id"] = "0"  # MLflow's default experiment, read by the plugin without creating it
        self.experiments["0"] = default

    def copy(self) -> State:
        """An independent copy (a test's own registry, starting from a shared trained one)."""
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


def _token(item_id: str) -> str:
    return base64.b64encode(f"{item_id}:{item_id}".encode()).decode()


def _after(token: str) -> int:
    try:
        last, _, _ = base64.b64decode(token, validate=True).decode().partition(":")
        return int(last)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, f"invalid nextPageToken {token!r}: bad request") from None


def _page(items: list[dict], query: dict[str, str]) -> dict:
    """A list answer: ``pageSize`` items after the token's id, ids ascending (the server's default
    order). The plugin's ``pageToken`` is not a parameter of the server: ignored, as there."""
    size_text = query.get("pageSize") or "0"
    if not size_text.isdigit():
        raise ApiError(400, f"invalid numeric string: {size_text}: bad request")
    size = int(size_text)
    items = sorted(items, key=lambda item: int(item["id"]))
    if query.get("nextPageToken"):
        start = _after(query["nextPageToken"])
        items = [item for item in items if int(item["id"]) > start]
    chosen = items[:size] if size else items
    more = bool(size) and len(items) > size
    return {"items": chosen, "nextPageToken": _token(chosen[-1]["id"]) if more else "", "pageSize": size,
            "size": len(chosen)}


def _patch(item: dict, body: dict) -> dict:
    """Only the fields the body carries (not null) change; a customProperties map replaces the old one."""
    item.update({k: v for k, v in body.items() if v is not None and k != "id"})
    item["lastUpdateTimeSinceEpoch"] = _now()
    return item


def _found(table: dict[str, dict], key: str, what: str) -> dict:
    _id(key, what)
    if key not in table:
        raise ApiError(404, f"no {what} found for id {key}: not found")
    return table[key]


def _unique(items: Any, name: Any, what: str) -> None:
    if any(item.get("name") == name for item in items):
        raise ApiError(409, f"{what} with name {name} already exists: conflict")


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

    def _create(self, table: dict[str, dict], schema: str, what: str, body: dict, siblings: Any = None,
                **defaults: Any) -> tuple[int, dict]:
        """A new context (model, version, experiment, run): checked, its name unique among its siblings."""
        _check(schema, body)
        _unique(table.values() if siblings is None else siblings, body.get("name"), what)
        item = self.state.stamp(body, "context", state="LIVE", **defaults)
        table[item["id"]] = item
        return 201, item

    # --- experiments --------------------------------------------------------------------------

    def post_experiments(self, rest, query, body):
        return self._create(self.state.experiments, "ExperimentCreate", "experiment", body)

    def get_experiments(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.experiments.values()), query)
        experiment = _found(self.state.experiments, rest[0], "experiment")
        if len(rest) > 1 and rest[1] == "experiment_runs":
            return 200, _page([r for r in self.state.runs.values() if r["experimentId"] == experiment["id"]], query)
        return 200, experiment

    def get_experiment(self, rest, query, body):
        return 200, self._find(self.state.experiments.values(), query, "experiments")

    def patch_experiments(self, rest, query, body):
        _check("ExperimentUpdate", body)
        return 200, _patch(_found(self.state.experiments, rest[0], "experiment"), body)

    # --- experiment runs ----------------------------------------------------------------------

    def post_experiment_runs(self, rest, query, body):
        if rest:
            return self._upsert_artifact(_found(self.state.runs, rest[0], "experiment run"),
                                         self.state.run_artifacts[rest[0]], body)
        _found(self.state.experiments, str(body.get("experimentId")), "experiment")
        status, run = self._create(self.state.runs, "ExperimentRunCreate", "experiment run", body, status="RUNNING",
                                   siblings=[r for r in self.state.runs.values()
                                             if r["experimentId"] == body.get("experimentId")])
        self.state.run_artifacts[run["id"]] = []
        return status, run

    def get_experiment_runs(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.runs.values()), query)
        run = _found(self.state.runs, rest[0], "experiment run")
        if len(rest) == 1:
            return 200, run
        if rest[1] == "artifacts":
            return 200, _page(self._of_type([self.state.artifacts[a] for a in self.state.run_artifacts[run["id"]]],
                                            query), query)
        if rest[1] == "metric_history":
            rows = [r for r in self.state.history.get(run["id"], []) if r["name"] == query.get("name", r["name"])]
            if query.get("stepIds"):
                steps = {int(s) for s in query["stepIds"].split(",") if s}
                rows = [r for r in rows if int(r.get("step") or 0) in steps]
            return 200, _page(rows, query)
        raise ApiError(404, f"GET /experiment_runs/{rest[0]}/{rest[1]}: not found")

    def patch_experiment_runs(self, rest, query, body):
        _check("ExperimentRunUpdate", body)
        return 200, _patch(_found(self.state.runs, rest[0], "experiment run"), body)

    # --- artifacts ----------------------------------------------------------------------------

    def _upsert_artifact(self, parent: dict, linked: list[str], body: dict) -> tuple[int, dict]:
        """An artifact posted under a version or a run: an ``id`` updates that artifact (and links it);
        a metric or parameter of a name the parent has is updated in place; other names are unique
        per artifact type; a metric write also adds a history row."""
        if body.get("id"):
            artifact = _patch(_found(self.state.artifacts, str(body["id"]), "artifact"), body)
            created = False
        else:
            _check("ArtifactCreate", body)
            same = [self.state.artifacts[a] for a in linked if self.state.artifacts[a]["artifactType"]
                    == body.get("artifactType") and self.state.artifacts[a].get("name") == body.get("name")]
            if same and body.get("artifactType") in ("metric", "parameter"):
                artifact, created = _patch(same[0], body), False
            elif same:
                raise ApiError(409, f"{body.get('artifactType')} with name {body.get('name')} already exists: "
                                    "conflict")
            else:
                artifact, created = self.state.stamp(body, "artifact", state="UNKNOWN"), True
                self.state.artifacts[artifact["id"]] = artifact
        if parent in self.state.runs.values():
            artifact.update(experimentId=parent["experimentId"], experimentRunId=parent["id"])
            if artifact["artifactType"] == "metric":
                history = self.state.history.setdefault(parent["id"], [])
                history.append({**artifact, "id": str(len(history) + 1)})
        if artifact["id"] not in linked:
            linked.append(artifact["id"])
        return (201 if created and artifact["artifactType"] in CREATED_ON_UPSERT else 200), artifact

    @staticmethod
    def _of_type(items: list[dict], query: dict[str, str]) -> list[dict]:
        wanted = query.get("artifactType")
        return [a for a in items if a["artifactType"] == wanted] if wanted else items

    def get_artifacts(self, rest, query, body):
        if not rest:
            return 200, _page(self._of_type(list(self.state.artifacts.values()), query), query)
        return 200, _found(self.state.artifacts, rest[0], "artifact")

    def get_model_artifact(self, rest, query, body):
        return self.get_artifact(rest, {**query, "artifactType": "model-artifact"}, body)

    def get_artifact(self, rest, query, body):
        """Find by name within a parent (a version's artifacts), or by externalId."""
        if not (query.get("name") and query.get("parentResourceId")) and not query.get("externalId"):
            raise ApiError(400, "invalid parameters call, supply either name and parentResourceId, or externalId: "
                                "bad request")
        owned = [self.state.artifacts[a] for a in self.state.version_artifacts.get(query.get("parentResourceId"), [])]
        candidates = owned if query.get("name") else list(self.state.artifacts.values())
        return 200, self._find(self._of_type(candidates, query), query, "artifacts")

    def patch_artifacts(self, rest, query, body):
        # the plugin's tag updates carry no artifactType, which ArtifactUpdate (a oneOf) requires; the
        # server's decoding of them is not known from its sources, so they are taken as they come
        return 200, _patch(_found(self.state.artifacts, rest[0], "artifact"), body)

    # --- registered models and versions -------------------------------------------------------

    def post_registered_models(self, rest, query, body):
        if rest:  # POST /registered_models/{id}/versions: the path names the model
            return self.post_model_versions([], query, {**body, "registeredModelId": rest[0]})
        return self._create(self.state.models, "RegisteredModelCreate", "registered model", body)

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
        if not query.get("name") and not query.get("externalId"):
            raise ApiError(400, "invalid parameters call, supply either name or externalId: bad request")
        return 200, self._find(self.state.models.values(), query, "registered models")

    def patch_registered_models(self, rest, query, body):
        _check("RegisteredModelUpdate", body)
        return 200, _patch(_found(self.state.models, rest[0], "registered model"), body)

    def post_model_versions(self, rest, query, body):
        if rest:  # POST /model_versions/{id}/artifacts
            version = _found(self.state.versions, rest[0], "model version")
            return self._upsert_artifact(version, self.state.version_artifacts.setdefault(version["id"], []), body)
        model = _found(self.state.models, str(body.get("registeredModelId")), "registered model")
        return self._create(self.state.versions, "ModelVersionCreate", "model version", body,
                            siblings=[v for v in self.state.versions.values() if v["registeredModelId"] == model["id"]])

    def get_model_versions(self, rest, query, body):
        if not rest:
            return 200, _page(list(self.state.versions.values()), query)
        version = _found(self.state.versions, rest[0], "model version")
        if len(rest) > 1 and rest[1] == "artifacts":
            owned = [self.state.artifacts[a] for a in self.state.version_artifacts.get(version["id"], [])]
            return 200, _page(self._of_type(owned, query), query)
        return 200, version

    def get_model_version(self, rest, query, body):
        if not (query.get("name") and query.get("parentResourceId")) and not query.get("externalId"):
            raise ApiError(400, "invalid parameters call, supply either name and parentResourceId, or externalId: "
                                "bad request")
        owned = [v for v in self.state.versions.values()
                 if not query.get("parentResourceId") or v["registeredModelId"] == query["parentResourceId"]]
        return 200, self._find(owned, query, "model versions")

    def patch_model_versions(self, rest, query, body):
        _check("ModelVersionUpdate", body)
        return 200, _patch(_found(self.state.versions, rest[0], "model version"), body)

    @staticmethod
    def _find(items: Any, query: dict[str, str], what: str) -> dict:
        """The one item of that name (or externalId); none, or several, is 404."""
        key, value = ("name", query["name"]) if query.get("name") else ("externalId", query.get("externalId"))
        found = [item for item in items if item.get(key) == value]
        if len(found) != 1:
            many = "multiple" if found else "no"
            raise ApiError(404, f"{many} {what} found for name={query.get('name', '')}, "
                                f"externalId={query.get('externalId', '')}: not found")
        return found[0]


class _Handler(http_input.GuardedHandler):
    api: Api
    token: str | None = None

    def log_message(self, *args: Any) -> None:  # quiet: tests read the answers, not a log
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        prefix = next((p for p in (V1ALPHA3, V1) if parts.path.startswith(p + "/")), None)
        try:
            if prefix is None:
                raise ApiError(404, f"{parts.path}: not found")
            if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
                raise ApiError(401, "Unauthorized: the bearer token is missing or not accepted")
            body = self._json_body()
            if body is None:  # the client hung up mid-body: no one to answer
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            status, answer = self.api.handle(self.command, parts.path[len(prefix):], query, body)
        except ApiError as error:
            status, answer = error.status, {"code": STATUS_TEXT.get(error.status, "Error"), "message": error.message}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        if prefix == V1ALPHA3:
            self.send_header("Deprecation", "true")
            self.send_header("Link", f'<{V1}/>; rel="successor-version"')
        self.end_headers()
        self.wfile.write(data)

    def _json_body(self) -> Any:
        """The body as JSON ({} when there is none), its length checked before it is read
        (``http_input``); None when the client hung up before sending it all."""
        try:
            data = self.read_body()
            if data is None:
                return None
            return http_input.parse_json(data) if data else {}
        except http_input.BodyRefused as refused:
            raise ApiError(refused.status, refused.message) from None
        except ValueError:
            raise ApiError(400, "the body is not JSON: bad request") from None

    do_GET = do_POST = do_PATCH = _serve


class StandIn:
    """``with StandIn() as registry: registry.url`` - on 127.0.0.1, a free port, stopped on exit.
    ``token``: the bearer token to require; ``state``: start from this (e.g. ``State.copy()``)."""

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

    parser = argparse.ArgumentParser(prog="python -m mlmeta.standins.kubeflow",
                                     description="A Kubeflow Model Registry stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--token", help="the bearer token to require (default: none)")
    args = parser.parse_args(argv)
    try:
        import mr_openapi  # noqa: F401 - every body is checked with the client's own models
    except ImportError:
        raise SystemExit("the stand-in checks bodies with the official client's models: pip install "
                         "model-registry==0.3.14 (in mlmeta's dev extra)") from None
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
