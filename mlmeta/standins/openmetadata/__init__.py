"""``mlmeta sandbox``: a local stand-in for the OpenMetadata REST API, faithful where mlmeta cares.

The OpenMetadata server needs Java, a database and a search engine; the sandbox needs this
package. It plays one OpenMetadata release (``server_version``, any in the range
``mlmeta.catalog.releases.supported_range()`` names): it serves ``/api/v1/...`` the way that
release's code behaves (``semantics``, switched by the same capabilities record mlmeta reads,
``mlmeta.catalog.releases``) and validates every request body with that release's own generated
schemas (``schemas``). Tests, benchmarks, ``make demo`` and users trying their specs run against it.

    with Sandbox() as sandbox:             # in-process, on a free port of 127.0.0.1
        token = sandbox.token("mlmeta-bot")
        ... OpenMetadata(hostPort=sandbox.api_url, jwtToken=token) ...
        sandbox.set_faults(latency_ms=20, failure_rate=0.3, statuses=[503, 429])
        sandbox.stats()                    # requests by route

Private routes, outside ``/api`` and never counted: ``GET|DELETE /_sandbox/stats``,
``GET|PUT /_sandbox/faults``, ``POST /_sandbox/reset``. They answer an admin only, with a token
this sandbox signed (``sandbox.token("admin")``, ``admin.jwt``); the quickstart's public admin
token, which the ``/api`` routes accept, does not open them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlmeta import state as state_files
from mlmeta.standins.openmetadata import schemas
from mlmeta.standins.openmetadata.faults import Faults, FaultSettings
from mlmeta.standins.openmetadata.semantics import ApiError
from mlmeta.standins.openmetadata.app import Request, Response, SandboxApp
from mlmeta.standins.openmetadata.server import Server, serve, start_thread
from mlmeta.standins.openmetadata.store import State, load_catalog, read_state_file

__all__ = ["Sandbox", "FaultSettings", "sdk_client"]


def sdk_client(api_url: str, token: str, **client_config: Any) -> Any:
    """An official SDK client (``OpenMetadata``) for a sandbox; ``client_config`` goes to the SDK's
    REST ClientConfig (e.g. ``retry=0``)."""
    from metadata.generated.schema.entity.services.connections.metadata.openMetadataConnection import (
        AuthProvider,
        OpenMetadataConnection,
    )
    from metadata.generated.schema.security.client.openMetadataJWTClientConfig import OpenMetadataJWTClientConfig
    from metadata.ingestion.ometa.ometa_api import OpenMetadata

    connection = OpenMetadataConnection(hostPort=api_url, authProvider=AuthProvider.openmetadata,
                                        securityConfig=OpenMetadataJWTClientConfig(jwtToken=token))
    return OpenMetadata(connection, additional_client_config_arguments=client_config or None)


class Sandbox:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, catalog: Path | None = None,
                 state_file: Path | None = None, secret: str | None = None, server_version: str | None = None,
                 faults: FaultSettings | None = None, quirks: frozenset[str] = frozenset(),
                 progress: Callable[[str], None] | None = None) -> None:
        self.catalog = load_catalog(catalog)
        self.state_file = state_file
        saved = read_state_file(state_file) if state_file is not None else None
        server_version = server_version or schemas.DEFAULT_VERSION
        self.app = SandboxApp(State(), Faults(faults), state_file=state_file, server_version=server_version,
                              quirks=quirks, release_schemas=schemas.schemas(server_version, log=progress))
        state = self.app.state
        self.server: Server = serve(self.app, host, port, self._control)  # binds: the base URL is known now
        if saved is not None:
            state.restore(saved)
        else:
            state.seed(self.catalog)
        if secret:
            state.secret = secret
        self._thread = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def start(self) -> Sandbox:
        self.warm_up()
        self._thread = start_thread(self.server)
        return self

    def warm_up(self) -> None:
        """Load the release's schemas (seconds) before the first request, not during it."""
        for name in schemas.MODELS:
            self.app.schemas.model(name)

    @property
    def version(self) -> str:
        return self.app.server_version

    def serve_forever(self) -> None:
        self.warm_up()
        self.server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- for tests and benchmarks -------------------------------------------------------------

    def token(self, user: str = "mlmeta-bot") -> str:
        return self.app.issue_token(user)

    def client(self, user: str = "mlmeta-bot", **client_config: Any) -> Any:
        """An official SDK client acting as ``user`` (see ``sdk_client``)."""
        return sdk_client(self.api_url, self.token(user), **client_config)

    def write_tokens(self, path: Path, users: tuple[str, ...] = ("mlmeta-bot", "admin")) -> dict[str, Path]:
        """Write ``{user: token}`` to ``path``, and each user's token alone to ``USER.jwt`` beside it
        (what OPENMETADATA_JWT_TOKEN_FILE takes). Returns ``{user: USER.jwt}``. The files are private
        (0600, a folder created for them 0700) and replaced atomically, never written through a
        symlink planted in their place (``mlmeta.state``)."""
        tokens = {user: self.token(user) for user in users}
        written = {user: path.parent / f"{user}.jwt" for user in users}
        state_files.prepare(path)
        state_files.replace_file(path, (json.dumps(tokens, indent=2) + "\n").encode(), mode=state_files.PRIVATE_FILE,
                                 durable=False)
        for user, target in written.items():
            state_files.replace_file(target, (tokens[user] + "\n").encode(), mode=state_files.PRIVATE_FILE,
                                     durable=False)
        return written

    def stats(self) -> dict[str, Any]:
        return self.app.counters.snapshot()

    def reset_stats(self) -> None:
        self.app.counters.reset()

    def set_faults(self, **changes: Any) -> FaultSettings:
        return self.app.faults.update(changes)

    def clear_faults(self) -> None:
        self.app.faults.configure(FaultSettings())

    def reset(self) -> None:
        """Back to the seed catalog, no faults, zero counters (tests share one sandbox)."""
        state = self.app.state
        with state.lock:
            fresh = State(state.release)
            fresh.secret, fresh.base_url = state.secret, state.base_url
            fresh.seed(self.catalog)
            state.restore(fresh.snapshot())
        self.clear_faults()
        self.reset_stats()

    def _control(self, request: Request) -> Response | None:
        if not request.path.startswith("/_sandbox/"):
            return None
        action = (request.method, request.path)
        try:
            self.app.authenticate_operator(request)
            if action == ("GET", "/_sandbox/stats"):
                return Response(200, self.stats())
            if action == ("DELETE", "/_sandbox/stats"):
                self.reset_stats()
                return Response(200, self.stats())
            if action == ("GET", "/_sandbox/faults"):
                return Response(200, asdict(self.app.faults.settings))
            if action == ("PUT", "/_sandbox/faults"):
                return Response(200, asdict(self.set_faults(**request.json())))
            if action == ("POST", "/_sandbox/reset"):
                self.reset()
                return Response(200, {"reset": True})
        except ApiError as error:
            return Response(error.status, {"code": error.status, "message": error.message})
        except (TypeError, ValueError) as error:
            return Response(400, {"code": 400, "message": str(error)})
        return Response(404, {"code": 404, "message": "unknown sandbox control route"})
