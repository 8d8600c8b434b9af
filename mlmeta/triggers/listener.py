"""The HTTP side of ``webhook serve`` and of ``webhook work --port``: waitress, hardened for a port
anyone on the network may reach (docs/contributing.md says why waitress; docs/security.md what is
guaranteed here; tests/security/test_receiver_http.py proves it).

What waitress does before mlmeta sees a request (read in its source, waitress 3.0):

- ``Content-Length`` must be digits only: negative, non-numeric or duplicated (joined as
  ``"5, 5"``) lengths are answered 400 before a byte of the body is read (``parser.py``);
- a length at or over ``max_request_body_size`` is answered 413 without reading the body; a
  chunked body is cut off at that size; headers are cut off at ``max_request_header_size`` (431);
- the whole request is read (into a bounded buffer) before the application is called, so the
  application never blocks on a slow client;
- ``ident=""`` sends no ``Server`` header (no version banner); ``expose_tracebacks`` is off.

What this module adds:

- **a deadline for reading one request** (``read_deadline``, headers and body together): waitress's
  ``channel_timeout`` only closes connections that are *idle*, so a client sending a byte a second
  would hold one forever. ``maintenance`` (run every second) closes any connection whose request
  started longer ago than the deadline, answering 408;
- **a cap on connections that answers**: beyond ``connections`` open ones, a new connection is
  accepted, answered ``503`` with ``Retry-After`` and closed (waitress's own limit silently stops
  accepting, leaving clients to hang in the backlog). The cap stays under the open-files limit,
  whose soft value is raised towards what the cap needs (within the hard one), so ``accept`` does
  not fail for want of descriptors; if it does (other code took them), accepting pauses for a
  second instead of spinning;
- **errors as one JSON line** (``{"error": ...}``) instead of waitress's text page, and a
  *lingering close* after them (a FIN, then what the client still sends is dropped for up to 2 s
  or 256 KiB): closing over unread bytes would reset the connection and lose the answer;
- **no traceback anywhere**: waitress's records go to the ``mlmeta.webhook.http`` logger, with any
  exception folded into the record's one line, and the application catches everything it could
  raise (a 500, said in one line); client hang-ups are not logged (``log_socket_errors=False``);
- ``poll()`` instead of ``select()`` (``asyncore_use_poll``): select fails above 1,024 descriptors.
"""

from __future__ import annotations

import http
import json
import logging
import resource
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

log = logging.getLogger("mlmeta.webhook.http")

MAX_BODY = 64 * 1024  # MLflow's deliveries are a few hundred bytes
MAX_HEADERS = 16 * 1024  # what one request's start line and headers may take (waitress: 256 KiB)
READ_DEADLINE = 10.0  # seconds to read one request, headers and body
IDLE_TIMEOUT = 30  # seconds a connection may sit with no request before it is closed
CONNECTIONS = 2048  # open connections at most; beyond, 503 (above 1,000 idle ones: tests/security)
THREADS = 8  # requests answered at once; each answer is a check and an fsync, milliseconds
RESERVED_FDS = 256  # descriptors kept for everything else (journal, clients to the servers, Kafka)
RETRY_AFTER = "5"
LINGER_SECONDS = 2.0  # after an answer sent before the whole request was read: the rest is dropped this long
LINGER_BYTES = 256 * 1024  # ... or up to this much, then the connection is closed whatever comes

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON document, extra headers
Receive = Callable[[str, dict[str, str], bytes], Answer]


class _OneLine(logging.Filter):
    """waitress logs some records with ``exc_info`` (a traceback): kept to the record's one line,
    so nothing multi-line reaches stderr and ``--log-format json`` stays one object per line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}".replace("\n", " ")
            record.args = None
        record.exc_info = record.exc_text = record.stack_info = None
        return True


log.addFilter(_OneLine())


class _QueueDepth:
    """waitress warns whenever more requests wait than threads are idle - every burst of
    deliveries; an answer takes milliseconds here, so that is a debug line."""

    @staticmethod
    def warning(message: str, *args: Any) -> None:
        log.debug(message, *args)


class _Dispatcher(ThreadedTaskDispatcher):
    logger = log
    queue_logger = _QueueDepth()


class _TimedRequest(HTTPRequestParser):
    """A request being read, and when its first byte came (for the read deadline)."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.started = time.monotonic()


class _JsonErrorTask(ErrorTask):
    """waitress's refusals (400, 413, 431, 501) as mlmeta's other answers: one JSON object."""

    logger = log

    def execute(self) -> None:
        error = self.request.error
        message = f"body larger than {MAX_BODY} bytes" if error.code == 413 else f"{error.reason}: {error.body}"
        body = json.dumps({"error": message[:200]}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Task(WSGITask):
    logger = log


class _Channel(HTTPChannel):
    """waitress's connection, closed the way nginx's ``lingering_close`` does: an answer sent
    before the whole request was read (400, 413, 431, 408) is followed by a FIN, and what the
    client still sends is read and dropped for a moment - closing over unread bytes would reset the
    connection, and the reset discards the answer before the client reads it."""

    parser_class = _TimedRequest
    task_class = _Task
    error_task_class = _JsonErrorTask
    logger = log
    lingering_until: float | None = None
    lingered = 0

    def handle_close(self) -> None:
        if self.lingering_until is None and self.socket is not None and not self.requests:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is out; the FIN follows it
            except OSError:
                return super().handle_close()  # the client is gone already
            self.lingering_until = time.monotonic() + LINGER_SECONDS
            return
        super().handle_close()

    def readable(self) -> bool:
        return True if self.lingering_until is not None else super().readable()

    def writable(self) -> bool:
        return False if self.lingering_until is not None else super().writable()

    def handle_read(self) -> None:
        if self.lingering_until is None:
            return super().handle_read()
        try:
            dropped = self.socket.recv(65536)
        except OSError:
            dropped = b""
        self.lingered += len(dropped)
        if not dropped or self.lingered > LINGER_BYTES or time.monotonic() > self.lingering_until:
            super().handle_close()


def _raw_answer(status: int, message: str, extra: str = "") -> bytes:
    """A whole HTTP answer, for a connection no WSGI task serves (turned away, too slow)."""
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n").encode() + body


BUSY = _raw_answer(503, "too many connections; try again later", f"Retry-After: {RETRY_AFTER}\r\n")
TOO_SLOW = _raw_answer(408, "the request took too long to send")


def _answer_and_close(channel: HTTPChannel, answer: bytes) -> None:
    """From the loop's thread, on a channel no task is serving: queue ``answer``, read nothing
    more, close once it is sent."""
    with channel.outbuf_lock:
        channel.outbufs[-1].append(answer)
        channel.total_outbufs_len += len(answer)
    channel.close_when_flushed = True


class _Server(TcpWSGIServer):
    channel_class = _Channel
    logger = log

    def __init__(self, application: Any, socket_map: dict, *, dispatcher: _Dispatcher, adj: Adjustments,
                 cap: int, read_deadline: float) -> None:
        self.cap = cap
        self.read_deadline = read_deadline
        self.turned_away = 0
        self._full = False
        self._paused_until = 0.0
        super().__init__(application, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])

    def readable(self) -> bool:
        # waitress's own readable() stops accepting at its connection limit; here the cap is
        # enforced in handle_accept, with an answer
        now = time.time()
        if now >= self.next_channel_cleanup:
            self.next_channel_cleanup = now + self.adj.cleanup_interval
            self.maintenance(now)
        return self.accepting and time.monotonic() >= self._paused_until

    def handle_accept(self) -> None:
        try:
            pair = self.accept()
        except OSError as error:  # out of descriptors: the connection waits in the backlog a second
            self._paused_until = time.monotonic() + 1.0
            log.warning("webhook: cannot accept a connection now (%s); trying again in a second",
                        error.strerror or error)
            return
        if pair is None:
            return
        connection, address = pair
        if len(self.active_channels) >= self.cap:
            self._turn_away(connection)
            return
        if self._full:
            self._full = False
            log.warning("webhook: fewer than %d connections open again; accepting", self.cap)
        try:
            self.set_socket_options(connection)
        except OSError:  # the client already went away
            connection.close()
            return
        self.channel_class(self, connection, self.fix_addr(address), self.adj, map=self._map)

    def _turn_away(self, connection: socket.socket) -> None:
        """503 and close, at once: a client told to come back rather than left hanging."""
        self.turned_away += 1
        if not self._full:
            self._full = True
            log.warning("webhook: %d connections open (the cap): new ones are answered 503 until some close",
                        self.cap)
        try:
            connection.setblocking(False)
            # read what the client already sent: a socket closed over unread bytes is reset, and
            # the reset discards the answer before the client reads it
            connection.recv(MAX_HEADERS)
        except OSError:
            pass  # nothing sent yet
        try:
            connection.send(BUSY)
        except OSError:
            pass  # a client that went away, or a full buffer: the close is the answer
        finally:
            connection.close()

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections: closed after channel_timeout
        started_before = time.monotonic() - self.read_deadline
        for channel in list(self.active_channels.values()):
            request = channel.request
            if channel.lingering_until is not None and channel.lingering_until < time.monotonic():
                channel.handle_close()  # lingered long enough
            elif request is not None and not channel.requests and request.started < started_before:
                _answer_and_close(channel, TOO_SLOW)

    def stop_accepting(self) -> None:
        """Close the listening socket only (waitress's close() would close its trigger too)."""
        self.accepting = False
        wasyncore.dispatcher.close(self)


def connection_cap(wanted: int) -> int:
    """The connections that can be held open: ``wanted``, within the descriptors this process may
    open (its soft limit is raised towards the hard one when it is lower)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + RESERVED_FDS
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass  # the limit stays: so does a smaller cap
    return wanted if soft == resource.RLIM_INFINITY else max(1, min(wanted, soft - RESERVED_FDS))


class Listener:
    """``GET /health`` and ``/metrics`` (service managers, Prometheus), and POSTs to ``receive``
    (deliveries; none for a queue worker), served by waitress on a thread of its own."""

    def __init__(self, host: str, port: int, *, health: Callable[[], tuple[int, dict[str, Any]]],
                 metrics: Callable[[], bytes], metrics_type: str, receive: Receive | None = None,
                 connections: int = CONNECTIONS, read_deadline: float = READ_DEADLINE,
                 idle_timeout: int = IDLE_TIMEOUT, threads: int = THREADS) -> None:
        self._routes = _Routes(health, metrics, metrics_type, receive)
        try:
            adj = Adjustments(host=host, port=port, threads=threads, ident="", expose_tracebacks=False,
                              max_request_body_size=MAX_BODY + 1,  # waitress refuses a length >= this
                              max_request_header_size=MAX_HEADERS, channel_timeout=idle_timeout,
                              cleanup_interval=1, asyncore_use_poll=True, log_socket_errors=False,
                              # a burst of deliveries (MLflow's retries, a registry's batch of
                              # promotions) waits to be accepted and gets its answer (a 503 with
                              # Retry-After at worst) rather than a reset connection
                              backlog=1024)
        except ValueError as error:  # a host name that does not resolve
            raise OSError(str(error)) from None
        self._map: dict = {}
        self._dispatcher = _Dispatcher()
        self._dispatcher.set_thread_count(threads)
        try:
            self.server = _Server(self._routes, self._map, dispatcher=self._dispatcher, adj=adj,
                                  cap=connection_cap(connections), read_deadline=read_deadline)
        except BaseException:
            self._dispatcher.shutdown(timeout=1)
            wasyncore.close_all(self._map, ignore_all=True)
            raise
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="mlmeta-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def host(self) -> str:
        host = str(self.server.effective_host)
        return f"[{host}]" if ":" in host else host

    def start(self) -> Listener:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop:
            wasyncore.poll2(1.0, self._map)

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let the requests in hand be answered (up to ``grace`` seconds), close."""
        if not self._thread.is_alive():  # never started: nothing in hand
            wasyncore.close_all(self._map, ignore_all=True)
            self._dispatcher.shutdown(timeout=1)
            return
        self.server.trigger.pull_trigger(self.server.stop_accepting)
        self._dispatcher.shutdown(cancel_pending=True, timeout=grace)
        deadline = time.monotonic() + 1.0
        while any(c.total_outbufs_len for c in list(self.server.active_channels.values())) \
                and time.monotonic() < deadline:
            time.sleep(0.02)  # the loop sends what the last answers left in the buffers
        self._stop = True
        self.server.pull_trigger()
        self._thread.join(timeout=5)
        wasyncore.close_all(self._map, ignore_all=True)


class _Routes:
    """The WSGI application: routes, the body as bytes, JSON answers - and nothing it raises ever
    reaches waitress (a 500, said in one line)."""

    def __init__(self, health: Callable[[], tuple[int, dict[str, Any]]], metrics: Callable[[], bytes],
                 metrics_type: str, receive: Receive | None) -> None:
        self.health = health
        self.metrics = metrics
        self.metrics_type = metrics_type
        self.receive = receive

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        try:
            status, data, content_type, headers = self._route(environ)
        except Exception as error:  # noqa: BLE001 - a bug must cost one answer, not the server
            log.error("webhook: answering %s %s failed: %s: %s", environ.get("REQUEST_METHOD"),
                      environ.get("PATH_INFO"), type(error).__name__, error)
            status, data, content_type, headers = _json(500, {"error": "internal error"}, {})
        start_response(f"{status} {http.HTTPStatus(status).phrase}",
                       [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers.items()])
        return [data]

    def _route(self, environ: dict[str, Any]) -> tuple[int, bytes, str, dict[str, str]]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        if method == "GET" and path == "/health":
            return _json(*self.health(), {})
        if method == "GET" and path == "/metrics":
            return 200, self.metrics(), self.metrics_type, {}
        if method == "POST" and self.receive is not None:
            body = _body(environ)
            if body is None:
                return _json(413, {"error": f"body larger than {MAX_BODY} bytes"}, {"Connection": "close"})
            return _json(*self.receive(path, _headers(environ), body))
        if method not in ("GET", "POST"):
            return _json(405, {"error": f"{method[:20]} is not answered here"}, {"Allow": "GET, POST"})
        return _json(404, {"error": "not found"}, {})


def _json(status: int, document: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes, str, dict[str, str]]:
    return status, json.dumps(document).encode(), "application/json", headers


def _body(environ: dict[str, Any]) -> bytes | None:
    """The request's body (already read whole by waitress, within MAX_BODY); None when it is larger."""
    length = environ.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:  # waitress checked both; checked again here
        return None
    return environ["wsgi.input"].read(int(length))


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, by lower-case name (``x-mlflow-signature``)."""
    found = {key[5:].lower().replace("_", "-"): value for key, value in environ.items()
             if key.startswith("HTTP_") and isinstance(value, str)}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            found[key.lower().replace("_", "-")] = environ[key]
    return found
