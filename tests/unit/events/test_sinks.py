"""The event sinks without a broker: the CloudEvents envelope and its stable id, sinks named by one string,
an HTTP sink's spool, a JSON Lines file."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from mlmeta.events.sinks import Emitter, JsonLinesSink, parse_sink
from mlmeta.http import Limits
from tests.helpers.events import event


def test_the_envelope_is_cloudevents_with_a_stable_id():
    first, again = event().envelope(), event().envelope()
    assert first["id"] == again["id"] and first["id"] != event(version="4").envelope()["id"]
    # the same version promoted again (after a rollback) is another generation: another id
    assert first["id"] != event(generation="3").envelope()["id"]
    assert {k: first[k] for k in ("specversion", "type", "subject", "source", "datacontenttype")} == {
        "specversion": "1.0", "type": "io.mlmeta.model.promoted", "subject": "churn/3",
        "source": "http://mlflow:5000", "datacontenttype": "application/json"}
    assert first["data"]["tags"] == [{"key": "team", "value": "eta"}] and first["data"]["runId"] == "r1"


def test_sinks_are_named_by_one_string():
    limits = Limits()
    assert parse_sink("-", limits).name == "jsonl:-" and parse_sink("out/events.jsonl", limits).name.endswith(".jsonl")
    # an endpoint's path or query may hold its secret: shown as the host and a digest of the whole URL
    assert parse_sink("https://events.example.com/in", limits).name == "https://events.example.com/...#e9f7afa3"
    assert parse_sink("kafka://broker:9092/promotions", limits).name == "kafka://broker:9092/promotions"
    with pytest.raises(Exception, match="not a sink mlmeta knows"):
        parse_sink("smtp://mail", limits)


def test_an_http_sink_that_fails_keeps_the_event_in_the_spool_and_sends_it_first_later(tmp_path):
    received, status = [], [500]

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append((self.headers["Content-Type"], json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = parse_sink(f"http://127.0.0.1:{server.server_address[1]}/events", Limits(timeout=2, deadline=2,
                                                                                      attempts=2))
        emitter = Emitter([sink], tmp_path / "spool.jsonl")
        problems = emitter.emit([event(version="3")])
        assert emitter.spooled == 1 and "kept in" in problems[-1]
        status[0] = 202
        received.clear()
        assert emitter.emit([event(version="4")]) == []
        assert [body["subject"] for _, body in received] == ["churn/3", "churn/4"]  # the spool first, in order
        assert received[0][0] == "application/cloudevents+json" and not (tmp_path / "spool.jsonl").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_a_json_lines_file_sink(tmp_path):
    Emitter([JsonLinesSink(str(tmp_path / "e.jsonl"))], None).emit([event(), event(version="4")])
    assert [json.loads(line)["subject"] for line in (tmp_path / "e.jsonl").read_text().splitlines()] == [
        "churn/3", "churn/4"]
