"""The events of a queue worker's batch: collected while the batch is acted on, and sent with its
commit - in the batch's Kafka transaction to the sinks on the queue's own cluster, inside the
transaction's window to the others."""

from __future__ import annotations

from dataclasses import dataclass

from mlmeta.config import Settings
from mlmeta.events import PromotionEvent
from mlmeta.events.sinks import Sink, parse_sink
from mlmeta.triggers.queue import BrokerErrors, client_config


@dataclass
class _Named:
    name: str


class BatchEvents:
    """The Follower's emitter in a worker: it only collects; the worker sends them with the batch's
    commit. ``sinks``, ``delivered_to`` and ``spooled_for`` are what /metrics reads."""

    def __init__(self, transactional: dict[str, str], others: list[Sink]) -> None:
        self.transactional = transactional  # sink name -> its topic on the queue's cluster, written in the transaction
        self.others = others
        self.sinks = [_Named(name) for name in transactional] + list(others)
        self.delivered_to: dict[str, int] = {}
        self.spooled_for: dict[str, int] = {}  # nothing waits on a worker's disk: the queue keeps it
        self.pending: list[PromotionEvent] = []

    def emit(self, events: list[PromotionEvent]) -> list[str]:
        self.pending += events
        return []

    def send_to_others(self) -> None:
        """Every pending event to every sink outside the transaction, or a SinkError."""
        for event in self.pending:
            envelope = event.envelope()
            for sink in self.others:
                sink.send(envelope, event.key)
                self.count(sink.name)

    def count(self, name: str, events: int = 1) -> None:
        self.delivered_to[name] = self.delivered_to.get(name, 0) + events

    def close(self) -> None:
        for sink in self.others:
            sink.close()


def split_sinks(names: list[str], queue_cluster: str, settings: Settings) -> tuple[dict[str, str], list[Sink]]:
    """Kafka sinks on the queue's own cluster (name -> topic: written in the transaction), and the
    other sinks."""
    from urllib.parse import urlsplit

    transactional, others = {}, []
    for name in names:
        parts = urlsplit(name.strip())
        if parts.scheme == "kafka" and parts.netloc and _cluster_id(parts.netloc) == queue_cluster:
            transactional[name.strip()] = parts.path.strip("/")
        else:
            others.append(parse_sink(name, settings.limits()))
    return transactional, others


def _cluster_id(bootstrap: str) -> str | None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        return AdminClient(client_config(bootstrap, BrokerErrors())).list_topics(timeout=5).cluster_id
    except KafkaException:
        return None  # cannot tell: at least once, like any other sink
