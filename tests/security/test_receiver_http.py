"""The receiver's HTTP side, attacked from the network (docs/security.md, "Requests from the
network"): lengths that lie, a gigabyte streamed at it, a thousand idle connections, requests sent
too slowly, JSON nested to blow the parser's recursion, clients that hang up - against
``mlmeta webhook serve`` as a whole process (its memory and CPU read from /proc), and against the
listener itself where a setting is made small to keep the test short."""

from __future__ import annotations

import json
import resource
import socket
import time

import pytest
import requests

from mlmeta.triggers.listener import Listener
from tests.helpers.projects import make_project
from tests.helpers.webhooks import alias_event, wait_for
from tests.security.receiver_process import ReceiverProcess, no_receiver_left  # noqa: F401 - an autouse fixture

GIGABYTE = 1 << 30
BLOCK = b"x" * (1 << 20)  # the one MiB the test holds: the gigabyte is this, sent 1,024 times
MAX_GROWTH = 50 * 1024 * 1024


@pytest.fixture
def model(in_tmp, registry, sandbox, mlflow_server, monkeypatch) -> str:
    return make_project(in_tmp, registry, sandbox, mlflow_server, monkeypatch, "attacked", 1)[0]


@pytest.fixture
def receiver(model, tmp_path):
    started = ReceiverProcess(tmp_path)
    started.reconciled()
    yield started
    started.stop()


def exchange(receiver: ReceiverProcess, request: bytes) -> bytes:
    """Send raw bytes, read the answer until the receiver closes the connection."""
    with receiver.connect() as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("lengths", [["-1"], ["abc"], ["5", "5"], ["5", "6"], ["+5"], ["0x10"], ["5 5"]],
                         ids=lambda v: "+".join(v))
def test_a_length_that_is_not_one_number_is_400_before_the_body_is_read(receiver, lengths):
    headers = "".join(f"Content-Length: {value}\r\n" for value in lengths)
    answer = exchange(receiver, f"POST / HTTP/1.1\r\nHost: mlmeta\r\n{headers}\r\n".encode() + b"hello")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 400, answer
    assert json.loads(body) == {"error": "Bad Request: Content-Length is invalid"}
    assert b"\r\nserver:" not in head.lower()  # no banner, on waitress's own answers either
    assert receiver.health().json()["journal"] == 0


def stream(receiver: ReceiverProcess, headers: str, chunked: bool) -> int:
    """Up to a gigabyte sent after ``headers``, until the receiver stops taking it; bytes sent."""
    sent = 0
    with receiver.connect() as connection:
        connection.settimeout(10)
        connection.sendall(f"POST / HTTP/1.1\r\nHost: mlmeta\r\n{headers}\r\n".encode())
        try:
            while sent < GIGABYTE:
                connection.sendall(b"100000\r\n" + BLOCK + b"\r\n" if chunked else BLOCK)
                sent += len(BLOCK)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # cut off: the receiver answered (400, 413 or 431) and closed
    return sent


@pytest.mark.parametrize("length", ["absent", "-1", "huge", "chunked"])
def test_a_gigabyte_sent_with_any_length_leaves_the_receivers_memory_flat(receiver, length):
    headers = {"absent": "", "-1": "Content-Length: -1\r\n", "huge": f"Content-Length: {GIGABYTE}\r\n",
               "chunked": "Transfer-Encoding: chunked\r\n"}[length]
    before = receiver.resident()
    receiver.reset_peak()
    sent = stream(receiver, "Content-Type: application/json\r\n" + headers, chunked=length == "chunked")
    growth = receiver.peak() - before
    print(f"{length}: {sent / 2**20:.0f} MiB taken before the receiver closed; peak growth {growth / 2**20:.1f} MiB")
    assert growth < MAX_GROWTH, f"{growth / 2**20:.0f} MiB more resident after {sent / 2**20:.0f} MiB sent"
    assert receiver.health().status_code == 200  # and still serving


def test_over_a_thousand_idle_connections_stop_neither_a_delivery_nor_health(model, tmp_path):
    # the receiver runs with the soft limit on open files many machines have (1,024): it raises
    # it to what its connection cap needs; without that, accept() fails once the idle
    # connections take the last descriptors, the accept loop spins, and nothing is answered
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    receiver = ReceiverProcess(tmp_path, fd_limit=1024)
    idle: list[socket.socket] = []
    try:
        receiver.reconciled()
        for number in range(1100):
            connection = receiver.connect()
            if number % 2:  # half of them start a request and never finish it (the read deadline closes them)
                connection.sendall(b"POST / HTTP/1.1\r\nHost: mlmeta\r\nContent-Length: 100\r\n\r\n")
            idle.append(connection)
        # all accepted: the receiver goes quiet (a second is not always enough on a busy machine); one
        # that spins on its accept loop never does, and fails the measurement below
        deadline, cpu = time.monotonic() + 10, receiver.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            before, cpu = cpu, receiver.cpu_seconds()
            if cpu - before < 0.05:
                break
        time.sleep(2)
        assert receiver.cpu_seconds() - cpu < 0.5, "the receiver is busy with idle connections"
        started = time.monotonic()
        assert receiver.deliver(alias_event(model)).status_code == 202
        health = receiver.health()
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert time.monotonic() - started < 5
    finally:
        for connection in idle:
            connection.close()
        assert receiver.stop() == 0


def test_a_payload_nested_deeper_than_json_can_parse_is_400_and_nothing_on_stderr(receiver):
    nested = b"[" * 30_000 + b"]" * 30_000  # json.loads would recurse 30,000 deep
    body = b'{"entity": "model_version_alias", "action": "created", "data": {"name": "x", "deep": ' + nested + b"}}"
    answer = receiver.deliver(body)
    assert answer.status_code == 400 and answer.json() == {"error": "not an MLflow webhook payload"}
    assert receiver.stop() == 0
    assert "Traceback" not in receiver.stderr() and "RecursionError" not in receiver.stderr()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_clients_that_hang_up_leave_nothing_on_stderr(model, tmp_path, log_format):
    receiver = ReceiverProcess(tmp_path, log_format=log_format)
    receiver.reconciled()
    request = b"POST / HTTP/1.1\r\nHost: mlmeta\r\nContent-Length: 1000\r\n\r\n"
    for cut in (b"POST / HT", request, request + b"x" * 500):  # mid-line, before the body, mid-body
        with receiver.connect() as connection:
            connection.sendall(cut)
    with receiver.connect() as connection:  # a reset instead of a close
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.sendall(request[:20])
    for _ in range(20):  # whole requests, the answer never read
        with receiver.connect() as connection:
            connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: mlmeta\r\n\r\n")
    assert receiver.health().status_code == 200
    assert receiver.stop() == 0
    lines = receiver.stderr().splitlines()
    if log_format == "json":
        assert all(json.loads(line)["logger"].startswith("mlmeta.") for line in lines), lines
    else:
        assert all(line.startswith("webhook: ") for line in lines), lines
    assert not any("stopping" not in line and "listening" not in line and "checkpoint" not in line
                   for line in lines), lines


def test_answers_name_no_server_software(receiver):
    for answer in (receiver.health(), requests.get(receiver.url + "nowhere", timeout=10),
                   requests.post(receiver.url, data=b"{}", timeout=10)):
        assert "server" not in {key.lower() for key in answer.headers}, answer.headers
        assert "waitress" not in answer.text.lower()


# --- the listener itself, with small settings ---------------------------------------------------------


@pytest.fixture
def listener_factory():
    started: list[Listener] = []

    def make(**settings) -> Listener:
        listener = Listener("127.0.0.1", 0, health=lambda: (200, {"status": "ok"}), metrics=lambda: b"",
                            metrics_type="text/plain", receive=lambda path, headers, body: (202, {}, {}), **settings)
        started.append(listener.start())
        return listener

    yield make
    for listener in started:
        listener.stop()


def read_all(connection: socket.socket) -> bytes:
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


def test_a_request_sent_too_slowly_is_answered_408_and_closed(listener_factory):
    listener = listener_factory(read_deadline=1.0)
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: mlmeta\r\nContent-Length: 10\r\n\r\n")
        started = time.monotonic()
        for _ in range(3):  # a byte at a time: never idle, never done
            time.sleep(0.6)
            try:
                connection.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = read_all(connection)
    assert status_of(answer) == 408, answer
    assert time.monotonic() - started < 4


def test_beyond_the_connection_cap_a_client_is_answered_503_and_later_served(listener_factory):
    listener = listener_factory(connections=5)
    held = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(5)]
    time.sleep(0.3)  # accepted by the loop
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: mlmeta\r\n\r\n")
        answer = read_all(connection)
    assert status_of(answer) == 503 and b"Retry-After: 5" in answer, answer
    for connection in held:
        connection.close()
    wait_for(lambda: requests.get(f"http://127.0.0.1:{listener.port}/health", timeout=5).status_code == 200, 10)


def test_headers_over_their_limit_are_431_and_an_idle_connection_is_closed(listener_factory):
    listener = listener_factory(idle_timeout=1)
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: mlmeta\r\nX-Filler: " + b"a" * 20_000 + b"\r\n\r\n")
        assert status_of(read_all(connection)) == 431
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as connection:
        started = time.monotonic()
        assert read_all(connection) == b""  # closed by the receiver, having said nothing
        assert time.monotonic() - started < 4
