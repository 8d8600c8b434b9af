"""Kafka as the webhook's queue (``webhook serve --queue kafka://host:port/topic``): the receivers
put each accepted delivery on a topic, and the workers of one consumer group (``webhook work``,
``queue_worker``) act on it - several of each, on as many machines as needed.

A delivery is one message keyed by its registered model, so all of one model's deliveries land
in one partition: applied in order, and never by two workers at once. The receivers' producer is
idempotent with ``acks=all``, and a receiver answers 202 only once the broker has acknowledged the
message (its delivery report) - Kafka's own rule that nothing is acknowledged that is not durable.
A broker that does not acknowledge within the timeout gets the delivery a 503 with Retry-After,
so MLflow sends it again. Every mlmeta producer keeps librdkafka's default partitioner (a hash of
the key), so a model's messages go to the same partition whichever process writes them.

Besides MLflow's deliveries, the workers put two kinds of their own on the topic, through the
same partitions: ``reconcile`` (one per watched model at start and every reconcile interval: a
delivery MLflow never sent is still acted on) and ``baseline`` (the same, the first time a
consumer group starts, when its state is empty: what is in Production then is published without
events, as on a new checkpoint).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from mlmeta.errors import ConfigError, UsageError

log = logging.getLogger("mlmeta.queue")
ACCEPT_TIMEOUT = 10.0  # longest wait for the broker's acknowledgement: MLflow waits for an answer itself
KINDS = ("delivery", "reconcile", "baseline")  # what a message on the queue is
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._\-]{1,249}$")  # Kafka's own rule for topic names


class QueueUnavailable(Exception):
    """The broker did not take the message in time; the message says why."""


@dataclass(frozen=True)
class QueueAddress:
    bootstrap: str  # host:port[,host:port]
    topic: str

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}/{self.topic}"


def parse_queue(text: str) -> QueueAddress:
    """``kafka://host:port[,host:port]/topic``, or a usage error naming --queue."""
    scheme, _, rest = text.strip().partition("://")
    bootstrap, _, topic = rest.partition("/")
    servers = bootstrap.split(",")
    if scheme != "kafka" or not all(_HOST_PORT.match(s) for s in servers) or not _TOPIC.match(topic):
        raise UsageError(f"--queue {text}: not kafka://host:port/topic",
                         hint="e.g. --queue kafka://kafka:9092/mlmeta.deliveries (brokers separated by commas)")
    return QueueAddress(bootstrap, topic)


class BrokerErrors:
    """The last error librdkafka reported (its ``error_cb``): the true cause of a broker that
    cannot be reached - a refused connection, a name that does not resolve - rather than a timeout."""

    def __init__(self) -> None:
        self.last: str | None = None

    def __call__(self, error: Any) -> None:
        from confluent_kafka import KafkaError

        log.debug("kafka: %s", error.str())
        if error.code() != KafkaError._ALL_BROKERS_DOWN:  # a count of brokers, not why they are down
            self.last = error.str()


def client_config(bootstrap: str, errors: BrokerErrors) -> dict[str, Any]:
    # librdkafka logs connection errors on its own: through logging, shown with -v only
    return {"bootstrap.servers": bootstrap, "error_cb": errors, "logger": logging.getLogger("kafka.librdkafka")}


def producer_config(bootstrap: str, errors: BrokerErrors, timeout: float) -> dict[str, Any]:
    """Idempotent, acknowledged by every in-sync replica, given up after ``timeout`` seconds."""
    return {**client_config(bootstrap, errors), "enable.idempotence": True, "acks": "all",
            "message.timeout.ms": int(timeout * 1000), "linger.ms": 0}


def connect(address: QueueAddress, timeout: float, option: str = "--queue") -> Any:
    """An AdminClient that reached the broker, with the queue's topic created if missing (the
    broker's default partition count); else a configuration error with the broker's own cause."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors = BrokerErrors()
    admin = AdminClient(client_config(address.bootstrap, errors))
    try:
        topics = admin.list_topics(timeout=timeout).topics
    except KafkaException as error:
        admin.poll(0.5)  # the error callbacks, with the cause, are served here
        cause = errors.last or error.args[0].str()
        raise ConfigError(f"{option} {address.url}", f"the broker cannot be reached within {timeout:g} s: {cause}",
                          hint="check the address, and that the broker runs") from None
    if address.topic not in topics:
        ensure_topic(admin, address.topic, timeout)
    return admin


def ensure_topic(admin: Any, topic: str, timeout: float, *, partitions: int = -1,
                 config: dict[str, str] | None = None) -> None:
    """Create ``topic`` unless it exists (another process may create it at the same moment)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1,
                                           config=config or {})], request_timeout=timeout)[topic]
    try:
        future.result(timeout=timeout)
    except KafkaException as error:
        if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise ConfigError(f"topic {topic}", f"cannot be created: {error.args[0].str()}",
                              hint="create it, or let mlmeta's principal create topics") from None
    _wait_for_leaders(admin, topic, timeout)


def _wait_for_leaders(admin: Any, topic: str, timeout: float) -> None:
    """A topic just created has no leader for a moment, and the client's metadata does not know it
    yet: asking for the topic's metadata refreshes it, until every partition has a leader."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if described is not None and described.error is None and described.partitions and all(
                p.leader >= 0 for p in described.partitions.values()):
            return
        time.sleep(0.2)


def message(kind: str, model: str, delivery: str = "", event: str = "", announced: float | None = None) -> bytes:
    return json.dumps({"kind": kind, "model": model, "delivery": delivery, "event": event, "announced": announced,
                       "received": time.time()}, sort_keys=True).encode()


class DeliveryQueue:
    """The receivers' side (and the workers', for their own reconcile and baseline messages): one
    message per delivery, acknowledged by the broker before ``put`` returns."""

    def __init__(self, address: QueueAddress, timeout: float = ACCEPT_TIMEOUT) -> None:
        from confluent_kafka import Producer

        self.address = address
        self.timeout = timeout
        self.errors = BrokerErrors()
        self._producer = Producer(producer_config(address.bootstrap, self.errors, timeout))
        self._stopping = threading.Event()
        # delivery reports are served here, so that each request thread only waits for its own
        self._reports = threading.Thread(target=self._serve_reports, name="mlmeta-queue-reports", daemon=True)
        self._reports.start()

    def accept(self, model: str, delivery: str, event: str, announced: float) -> None:
        """A delivery that passed the checks: on the topic and acknowledged, or QueueUnavailable."""
        self.put("delivery", model, delivery=delivery, event=event, announced=announced)

    def put(self, kind: str, model: str, **fields: Any) -> None:
        done = threading.Event()
        failure: list[str] = []

        def reported(error: Any, _: Any) -> None:
            if error is not None:
                failure.append(error.str())
            done.set()

        try:
            self._producer.produce(self.address.topic, key=model.encode(), value=message(kind, model, **fields),
                                   on_delivery=reported)
        except BufferError:
            raise QueueUnavailable("the producer's queue is full") from None
        if not done.wait(self.timeout + 1):
            raise QueueUnavailable(f"not acknowledged within {self.timeout:g} s"
                                   + (f" ({self.errors.last})" if self.errors.last else ""))
        if failure:
            raise QueueUnavailable(failure[0])

    def reachable(self) -> str | None:
        """None when the broker answers a metadata request now; else why not (for /health)."""
        from confluent_kafka import KafkaException

        try:
            self._producer.list_topics(self.address.topic, timeout=2)
        except KafkaException as error:
            return f"the queue's broker does not answer: {self.errors.last or error.args[0].str()}"
        return None

    def _serve_reports(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.1)

    def close(self) -> None:
        self._producer.flush(self.timeout)
        self._stopping.set()
        self._reports.join(timeout=5)
