"""Where promotion events go: JSON Lines (stdout or a file), an HTTP endpoint, a Kafka topic.

A sink is named by one string (the ``--sink`` flag, ``event_sinks`` in the project file):

    -  or  jsonl:-            JSON Lines on standard output
    jsonl:PATH  or  PATH.jsonl JSON Lines appended to a file
    http(s)://host/path        one POST per event (CloudEvents structured mode)
    kafka://host:port[,host:port]/topic   one message per event, keyed by the registered model

An event a sink cannot take - a broker that is down, an endpoint answering 500 past mlmeta's
retries and deadline - is never dropped: ``Emitter`` appends it to a spool file (JSON Lines of
``{sink, event}``) and says so; the next ``emit`` (a watcher's next pass, the next publish)
re-sends the spool first, in order, and only then the new events. ``publish --emit-events``
fails the run (exit 1) when an event is left in the spool, because a CI runner's disk does not
outlive the job; ``watch`` and ``webhook serve`` keep going and retry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from mlmeta import secrets, state
from mlmeta.errors import ConfigError
from mlmeta.events import PromotionEvent
from mlmeta.http import HttpClient, HttpFailure, Limits
from mlmeta.output import console

log = logging.getLogger("mlmeta.events")


class SinkError(Exception):
    """The sink could not take the event; the message says why."""


class Sink(Protocol):
    name: str

    def send(self, envelope: dict[str, Any], key: str) -> None: ...

    def close(self) -> None: ...


class JsonLinesSink:
    def __init__(self, target: str) -> None:
        self.name = f"jsonl:{target}"
        self._path = None if target == "-" else Path(target)
        self._lock = threading.Lock()

    def send(self, envelope: dict[str, Any], key: str) -> None:
        line = json.dumps(envelope, sort_keys=True, separators=(",", ":")) + "\n"
        with self._lock:
            if self._path is None:
                if not console.write_out(line):  # the event went nowhere: it waits in the spool
                    raise SinkError("stdout was closed by its reader")
                return
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:
                raise SinkError(f"cannot append to {self._path}: {error.strerror or error}") from None

    def close(self) -> None:
        pass


class HttpSink:
    """One POST per event, ``Content-Type: application/cloudevents+json``; any 2xx is delivery."""

    def __init__(self, url: str, limits: Limits) -> None:
        self.name = sink_name(url)
        parts = urlsplit(url)
        self._path = parts.path or "/"
        if parts.query:
            self._path += f"?{parts.query}"
        auth = (unquote(parts.username or ""), unquote(parts.password)) if parts.password else None
        netloc = parts.netloc.rpartition("@")[2]
        self._client = HttpClient(f"{parts.scheme}://{netloc}", server="the event endpoint",
                                  setting=f"--sink {self.name}", limits=limits, auth=auth)

    def send(self, envelope: dict[str, Any], key: str) -> None:
        try:
            answer = self._client.request("POST", self._path, data=json.dumps(envelope),
                                          headers={"Content-Type": "application/cloudevents+json"})
        except (HttpFailure, Exception) as error:  # noqa: BLE001 - Unreachable/ServerDown too: spool, go on
            raise SinkError(f"{self.name}: {error}") from None
        if not answer.ok:
            raise SinkError(f"{self.name} answered HTTP {answer.status}: {answer.message()}")

    def close(self) -> None:
        pass


class KafkaSink:
    """A Kafka topic through confluent-kafka (librdkafka): idempotent, acks from all replicas,
    keyed by registered model so that one model's events keep their order in one partition."""

    def __init__(self, bootstrap: str, topic: str, timeout: float) -> None:
        try:
            from confluent_kafka import Producer
        except ImportError:
            raise ConfigError("--sink kafka://...", "the Kafka sink needs confluent-kafka",
                              hint="pip install 'mlmeta[kafka]'") from None
        self.name = sink_name(f"kafka://{bootstrap}/{topic}")
        self.topic = topic
        self.timeout = timeout
        # librdkafka logs connection errors on its own: through logging, shown with -v only
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                                   "message.timeout.ms": int(timeout * 1000), "linger.ms": 5,
                                   "logger": logging.getLogger("kafka.librdkafka")})

    def send(self, envelope: dict[str, Any], key: str) -> None:
        failures: list[str] = []

        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        try:
            self._producer.produce(self.topic, **kafka_record(envelope, key), on_delivery=delivered)
        except BufferError as error:
            raise SinkError(f"{self.name}: the producer's queue is full ({error})") from None
        remaining = self._producer.flush(self.timeout + 1)
        if remaining or failures:
            raise SinkError(f"{self.name}: not delivered within {self.timeout:g} s"
                            + (f" ({failures[0]})" if failures else ""))

    def close(self) -> None:
        self._producer.flush(1)


def sink_name(url: str) -> str:
    """How a sink is named wherever it is shown or kept (messages, ``/metrics`` labels, the spool):
    its URL's label - no credentials, path or query - and, when the label leaves something out, a
    digest of the whole URL, so that two sinks on one host stay apart and a spooled event finds its
    sink again after a restart."""
    shown = secrets.label(url)
    return shown if shown == url else f"{shown}#{hashlib.sha256(url.encode('utf-8')).hexdigest()[:8]}"


def kafka_record(envelope: dict[str, Any], key: str) -> dict[str, Any]:
    """An event as a Kafka message (CloudEvents structured mode): what a consumer of either Kafka
    path reads - this sink, or a queue worker's transaction (``triggers.queue_worker``)."""
    return {"key": key.encode(), "value": json.dumps(envelope).encode(),
            "headers": {"content-type": "application/cloudevents+json"}}


def parse_sink(text: str, limits: Limits) -> Sink:
    """A sink from its command-line / configuration string (see the module's docstring)."""
    spec = text.strip()
    if spec in ("-", "jsonl:-"):
        return JsonLinesSink("-")
    if spec.startswith("jsonl:"):
        return JsonLinesSink(spec[len("jsonl:"):])
    if spec.endswith(".jsonl") and "://" not in spec:
        return JsonLinesSink(spec)
    parts = urlsplit(spec)
    if parts.scheme in ("http", "https") and parts.hostname:
        return HttpSink(spec, limits)
    if parts.scheme == "kafka" and parts.netloc and parts.path.strip("/"):
        return KafkaSink(parts.netloc, parts.path.strip("/"), limits.timeout)
    raise ConfigError(f"--sink {secrets.label(text) if '://' in text else text}", "not a sink mlmeta knows",
                      hint="use -, jsonl:FILE, http(s)://host/path or kafka://host:port/topic")


class Emitter:
    """Every event to every sink; what a sink cannot take waits in the spool, in order."""

    def __init__(self, sinks: list[Sink], spool: Path | None) -> None:
        self.sinks = sinks
        self.spool = spool
        self._lock = threading.Lock()
        self.delivered = 0
        self.spooled = 0  # events waiting in the spool after the last emit
        self.delivered_to: dict[str, int] = {}  # per sink, since the start (metrics)
        self.spooled_for: dict[str, int] = {}  # per sink, after the last emit

    def emit(self, events: list[PromotionEvent]) -> list[str]:
        """Send the spool's events, then these; returns one line per sink that failed (empty: all
        delivered)."""
        with self._lock:
            waiting = self._read_spool() + [(sink.name, e.envelope(), e.key) for e in events for sink in self.sinks]
            kept, problems = [], []
            failed_sinks: set[str] = set()
            for sink_name, envelope, key in waiting:
                sink = next((s for s in self.sinks if s.name == sink_name), None)
                if sink is None:  # a sink no longer configured: keep its events, say so once
                    kept.append((sink_name, envelope, key))
                    continue
                if sink_name in failed_sinks:  # keep the order: nothing after a failure goes first
                    kept.append((sink_name, envelope, key))
                    continue
                try:
                    sink.send(envelope, key)
                    self.delivered += 1
                    self.delivered_to[sink_name] = self.delivered_to.get(sink_name, 0) + 1
                except SinkError as error:
                    failed_sinks.add(sink_name)
                    kept.append((sink_name, envelope, key))
                    problems.append(str(error))
            self._write_spool(kept)
            self.spooled = len(kept)
            self.spooled_for = {sink.name: sum(1 for name, _, _ in kept if name == sink.name) for sink in self.sinks}
            if kept and self.spool is not None:
                problems.append(f"{len(kept)} event(s) kept in {self.spool}; they are sent again first next time")
            elif kept:
                problems.append(f"{len(kept)} event(s) could not be delivered and there is no spool to keep them")
            return problems

    def _read_spool(self) -> list[tuple[str, dict[str, Any], str]]:
        if self.spool is None or not self.spool.exists():
            return []
        waiting = []
        for line in self.spool.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                waiting.append((record["sink"], record["event"], record["key"]))
            except (ValueError, KeyError):
                log.warning("skipping an unreadable line of %s", self.spool)
        return waiting

    def _write_spool(self, kept: list[tuple[str, dict[str, Any], str]]) -> None:
        if self.spool is None:
            return
        if not kept:
            self.spool.unlink(missing_ok=True)
            return
        # durable before the caller goes on: an event kept here must survive a crash
        state.write_durably(self.spool, "".join(json.dumps({"sink": s, "event": e, "key": k}, sort_keys=True) + "\n"
                                                for s, e, k in kept))

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
