"""Misbehaving servers for the failure tests and benchmarks: what mlmeta must fail fast against,
and a server that goes down and comes back (``SwitchableProxy``).

``silent_listener()`` accepts TCP connections and never says a word (a hung server, a firewall
that lets the handshake through); ``web_server()`` answers every request the same way (a web
site, a proxy's error page, the wrong port, a server failing: ``Retry-After: 0`` among its
``headers`` keeps a client's retries from waiting); ``echoing_server()`` answers with the request
it got, credentials included (a server reflecting what it was sent). Each binds 127.0.0.1 on a
free port and yields the base URL; they stop, with every connection they hold, when the ``with``
block ends.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_listener() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


@contextmanager
def web_server(status: int = 404, body: bytes = b"<html><body>Not Found</body></html>",
               content_type: str = "text/html", headers: dict[str, str] | None = None) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = _answer

        def log_message(self, *args) -> None:
            pass

    with _serving(Handler) as url:
        yield url


@contextmanager
def echoing_server(status: int = 401, content_type: str = "application/json") -> Iterator[str]:
    """A server that is not what it claims, answering every request with ``status`` and the
    request itself - its line and every header, credentials included - as its error message (JSON)
    or page (HTML): what the secret-redaction tests throw at every command."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(min(length, 65536)).decode(errors="replace") if length > 0 else ""
            echoed = f"{self.requestline} {dict(self.headers)} {sent}"
            body = (json.dumps({"code": status, "message": echoed, "error_code": "INTERNAL_ERROR"})
                    if "json" in content_type else f"<html><body>{echoed}</body></html>").encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args) -> None:
            pass

    with _serving(Handler) as url:
        yield url


@contextmanager
def _serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class SwitchableProxy:
    """A TCP forwarder to a real server that can be switched off and on again, on the same port:
    off, connections are refused and the ones open are cut - a server that went down, as a client
    sees it - without stopping the server behind it (which other tests share)."""

    def __init__(self, target: str) -> None:
        parts = target.split("://", 1)[-1].split("/", 1)[0]
        host, _, port = parts.rpartition(":")
        self.target = (host or "127.0.0.1", int(port))
        self.scheme = target.split("://", 1)[0] if "://" in target else "http"
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def close(self) -> None:
        self.down()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # switched off
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # switched off meanwhile
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
