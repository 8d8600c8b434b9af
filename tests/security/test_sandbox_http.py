"""Both stand-ins (``mlmeta sandbox`` and ``python -m mlmeta.standins.kubeflow``) check a request's
framing before reading its body, bound the body's size and nesting, and take clients that hang
up in their stride: a refusal is an answer, never a traceback on the server's stderr or a hang.

Before issue 30 both handlers read ``int(Content-Length)`` bytes: ``-1`` waited for the client to
close, ``abc`` raised out of the handler (a traceback and no answer), a deeply nested JSON body
was a ``RecursionError`` (a 500 from the sandbox, a traceback from the Kubeflow stand-in), and a
client that hung up left a ``BrokenPipeError`` traceback. Each stand-in runs as its command does,
in a subprocess whose stderr is read after every test.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from mlmeta.standins.http_input import MAX_BODY, MAX_DEPTH
from tests.helpers.files import REPO

ANSWER_WITHIN = 5.0  # seconds: a stand-in that has not answered by then is waiting for bytes that never come


class StandIn:
    """A stand-in's command in a subprocess: where it listens, what a write request looks like."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.stderr_file = folder / f"{kind}.stderr"
        self._stderr = self.stderr_file.open("w")
        self.read_from = 0
        if kind == "sandbox":
            ready = folder / "ready.json"
            command = ["-m", "mlmeta", "sandbox", "--port", "0", "--ready-file", str(ready),
                       "--token-file", str(folder / "tokens" / "tokens.json")]
            self.process = subprocess.Popen([sys.executable, *command], cwd=REPO, stdout=subprocess.DEVNULL,
                                            stderr=self._stderr, text=True)
            self.url = self._wait_for(lambda: ready.exists() and json.loads(ready.read_text())["url"])
            tokens = json.loads((folder / "tokens" / "tokens.json").read_text())
            self.token, self.admin_token = tokens["mlmeta-bot"], tokens["admin"]
            self.write_path = "/api/v1/mlmodels"
        else:
            self.process = subprocess.Popen([sys.executable, "-m", "mlmeta.standins.kubeflow", "--port", "0"],
                                            cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
            self.url = self.process.stdout.readline().strip()  # its first line says where it listens
            self.token = self.admin_token = ""
            self.write_path = "/api/model_registry/v1/registered_models"
        parts = urlsplit(self.url)
        self.address = (parts.hostname, parts.port)

    def _wait_for(self, ready) -> str:
        deadline = time.time() + 90
        while time.time() < deadline and self.process.poll() is None:
            found = ready()
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"the {self.kind} did not start: {self.stderr_file.read_text()}")

    def request_head(self, length_headers: str, *, method: str = "PUT") -> bytes:
        method = method if self.kind == "sandbox" else "POST"
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        return (f"{method} {self.write_path} HTTP/1.1\r\nHost: {self.address[0]}\r\n{auth}"
                f"Content-Type: application/json\r\n{length_headers}\r\n").encode()

    def new_stderr(self) -> str:
        text = self.stderr_file.read_text()
        new, self.read_from = text[self.read_from:], len(text)
        return new

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        finally:
            self._stderr.close()


@pytest.fixture(scope="module", params=["sandbox", "kubeflow"])
def standin(request, tmp_path_factory):
    server = StandIn(request.param, tmp_path_factory.mktemp(request.param))
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_traceback(request):
    """Whatever a test sends, the stand-in's stderr stays free of tracebacks, and it keeps serving."""
    if "standin" not in request.fixturenames:
        yield
        return
    standin = request.getfixturevalue("standin")
    standin.new_stderr()
    yield
    time.sleep(0.3)  # a handler thread that failed prints its traceback after the client has gone
    assert still_serving(standin)
    stderr = standin.new_stderr()
    assert "Traceback" not in stderr and "Exception occurred" not in stderr, stderr


def still_serving(standin: StandIn) -> bool:
    path = "/api/v1/system/version" if standin.kind == "sandbox" else "/api/model_registry/v1/registered_models"
    return requests.get(standin.url + path, timeout=ANSWER_WITHIN).status_code == 200


def exchange(standin: StandIn, data: bytes) -> tuple[int, dict, bool]:
    """Send raw bytes; the answer's status, its JSON body, and whether the stand-in then closed
    the connection. An answer not complete within ANSWER_WITHIN seconds fails the test."""
    with socket.create_connection(standin.address, timeout=ANSWER_WITHIN) as connection:
        connection.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < body_length(received):
            chunk = connection.recv(65536)  # TimeoutError: no (complete) answer in time
            assert chunk, f"the connection closed without a complete answer: {received!r}"
            received += chunk
        connection.settimeout(0.5)  # the answer is complete: is the connection closed behind it?
        try:
            closed = connection.recv(1) == b""
        except TimeoutError:
            closed = False
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body), closed


def body_length(received: bytes) -> int:
    head = received.partition(b"\r\n\r\n")[0]
    lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    return int(lengths[0])


@pytest.mark.parametrize("value", ["-1", "abc", "+2", "2 2", "1e3", "0x10"])
def test_a_content_length_that_is_not_a_number_of_bytes_is_a_400_before_any_read(standin, value):
    status, answer, closed = exchange(standin, standin.request_head(f"Content-Length: {value}\r\n") + b"{}")
    assert status == 400 and "Content-Length" in answer["message"]
    assert closed  # what follows on that connection cannot be framed


def test_two_content_lengths_are_a_400(standin):
    twice = standin.request_head("Content-Length: 2\r\nContent-Length: 2\r\n") + b"{}"
    status, answer, closed = exchange(standin, twice)
    assert (status, closed) == (400, True) and "more than one Content-Length" in answer["message"]


@pytest.mark.parametrize("declared", [str(MAX_BODY + 1), "1" + "0" * 30, "9" * 5000],
                         ids=["bound+1", "1e30", "5000 digits"])  # int() refuses more than 4,300 digits
def test_a_body_above_the_bound_is_a_413_unread(standin, declared):
    status, answer, closed = exchange(standin, standin.request_head(f"Content-Length: {declared}\r\n"))
    assert (status, closed) == (413, True)  # answered at once, without waiting for the body
    assert str(MAX_BODY) in answer["message"]


def test_a_chunked_body_is_refused_not_left_in_the_stream(standin):
    chunked = b"2\r\n{}\r\n0\r\n\r\n"
    status, _, closed = exchange(standin, standin.request_head("Transfer-Encoding: chunked\r\n") + chunked)
    assert (status, closed) == (501, True)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_a_400(standin, depth):
    body = b"[" * depth + b"]" * depth
    status, answer, _ = exchange(standin, standin.request_head(f"Content-Length: {len(body)}\r\n") + body)
    assert status == 400 and f"nests deeper than {MAX_DEPTH} levels" in answer["message"]


def test_a_body_up_to_the_bound_is_read(standin):
    body = b"{" + b" " * (MAX_BODY - 2) + b"}"  # an empty object, padded to the bound
    status, answer, _ = exchange(standin, standin.request_head(f"Content-Length: {len(body)}\r\n") + body)
    assert status in (400, 422) and "name" in answer["message"]  # parsed, then found to lack a name


def hang_up(connection: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), as a client that crashed or timed out does."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def test_a_client_hanging_up_mid_body_leaves_no_traceback(standin):
    with socket.create_connection(standin.address, timeout=ANSWER_WITHIN) as connection:
        connection.sendall(standin.request_head("Content-Length: 100\r\n") + b'{"name": ')
        time.sleep(0.2)
        hang_up(connection)


def test_a_client_hanging_up_before_the_answer_leaves_no_traceback(standin):
    if standin.kind == "sandbox":  # the answer comes 0.5 s later: the client is gone by then
        faults = requests.put(standin.url + "/_sandbox/faults", json={"latency_ms": 500}, timeout=ANSWER_WITHIN,
                              headers={"Authorization": f"Bearer {standin.admin_token}"})
        assert faults.status_code == 200
    try:
        with socket.create_connection(standin.address, timeout=ANSWER_WITHIN) as connection:
            connection.sendall(standin.request_head("Content-Length: 2\r\n") + b"{}")
            hang_up(connection)
        time.sleep(0.8)
    finally:
        if standin.kind == "sandbox":
            requests.put(standin.url + "/_sandbox/faults", json={"latency_ms": 0}, timeout=ANSWER_WITHIN,
                         headers={"Authorization": f"Bearer {standin.admin_token}"})


def test_the_sandbox_announces_itself_and_no_python_version(sandbox):
    answer = requests.get(sandbox.api_url + "/v1/system/version", timeout=ANSWER_WITHIN)
    assert answer.headers["Server"] == "mlmeta-sandbox"


@pytest.mark.parametrize("path", ["/v1/metadata/types?limit=abc", "/v1/mlmodels?limit=abc",
                                  "/v1/lineage/table/name/demo_pg.postgres.public.users?upstreamDepth=x"])
def test_a_query_parameter_that_is_not_a_number_is_a_400_not_a_sandbox_error(sandbox, path):
    answer = requests.get(sandbox.api_url + path, headers={"Authorization": f"Bearer {sandbox.token()}"},
                          timeout=ANSWER_WITHIN)
    assert answer.status_code == 400 and "must be a number" in answer.json()["message"]
