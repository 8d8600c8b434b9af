"""The sandbox's HTTP side: a threading server whose handler turns bytes into ``app`` requests, with
the injected faults, the counters, the ETag and Dropwizard's gzip on the way out."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlmeta.standins.http_input import MAX_BODY, BodyRefused, GuardedHandler
from mlmeta.standins.openmetadata import routes_catalog, routes_models, routes_types_lineage
from mlmeta.standins.openmetadata.app import ROUTES, Request, Response, SandboxApp
from mlmeta.standins.openmetadata.conventions import strong_etag
from mlmeta.standins.openmetadata.faults import Fault
from mlmeta.standins.openmetadata.semantics import ApiError

log = logging.getLogger("mlmeta.sandbox")
GZIP_MIN_BYTES = 256  # Dropwizard's gzip.minimumEntitySize
# Each family registers its routes in ``app.ROUTES`` as it is imported: all of them, before any request.
ROUTE_FAMILIES = (routes_catalog, routes_models, routes_types_lineage)


def make_handler(app: SandboxApp, control: Callable[[Request], Response | None]) -> type[GuardedHandler]:
    class Handler(GuardedHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real server behind Jetty
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
        server_version = "mlmeta-sandbox"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), fmt % args)

        def version_string(self) -> str:
            return self.server_version  # what answers, without the Python version underneath

        def _handle(self) -> None:
            split = urlsplit(self.path)
            try:
                body = self.read_body(MAX_BODY)
            except BodyRefused as refused:
                self._send(Response(refused.status, {"code": refused.status, "message": refused.message}))
                return
            if body is None:  # the client hung up mid-body
                return
            request = Request(self.command, split.path, parse_qs(split.query),
                              {k.lower(): v for k, v in self.headers.items()}, body)
            private = control(request)
            if private is not None:
                self._send(private)
                return
            delay = app.faults.delay_seconds()
            if delay:
                time.sleep(delay)
            fault = app.faults.decide(request.method, request.path)
            if fault and fault.phase == "before":
                app.counters.count(self._route_name(request), faulted=True)
                self._fail(fault)
                return
            name, response = self._run(request)
            app.counters.count(name, faulted=fault is not None)
            if fault:
                self._fail(fault)
                return
            self._send(response)

        def _route_name(self, request: Request) -> str:
            for method, pattern, name, _ in ROUTES:
                if method == request.method and pattern.match(request.path):
                    return name
            return f"{request.method} (unknown)"

        def _run(self, request: Request) -> tuple[str, Response]:
            try:
                return app.dispatch(request)
            except ApiError as error:
                return self._route_name(request), Response(error.status, {"code": error.status,
                                                                          "message": error.message}, error.headers)
            except Exception as error:  # a sandbox bug must look like a server error, not kill the thread
                log.exception("sandbox error on %s %s", request.method, request.path)
                return self._route_name(request), Response(500, {"code": 500, "message": f"{type(error).__name__}: {error}"})

        def _fail(self, fault: Fault) -> None:
            if fault.status is None:  # drop: close the socket without answering
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            headers = {"Retry-After": str(app.faults.settings.retry_after)} if fault.status == 429 else {}
            self._send(Response(fault.status, {"code": fault.status, "message": f"injected fault {fault.status}"},
                                headers))

        def _send(self, response: Response) -> None:
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            headers = dict(response.headers or {})
            if response.etag and app.has("if_match"):
                headers["ETag"] = strong_etag(response.body, app.release)
            # every release runs Dropwizard's default gzip: answers of 256 bytes and more to clients that
            # accept it, the ETag marked --gzip by Jetty
            if len(payload) >= GZIP_MIN_BYTES and "gzip" in self.headers.get("Accept-Encoding", ""):
                payload = gzip.compress(payload, compresslevel=1)
                headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
                if "ETag" in headers:
                    headers["ETag"] = headers["ETag"][:-1] + '--gzip"'
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            if self.close_connection:  # a refused body: whatever the client still sends cannot be framed
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(app: SandboxApp, host: str, port: int, control: Callable[[Request], Response | None]) -> Server:
    server = Server((host, port), make_handler(app, control))
    app.state.base_url = f"http://{host}:{server.server_address[1]}"
    return server


def start_thread(server: Server) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="mlmeta-sandbox")
    thread.start()
    return thread
