"""A batch of deliveries a queue worker took, and the one Kafka transaction that commits it: the
events for the queue's own cluster, the dead letters, the group's state records and the batch's
offsets together (``queue_worker`` says why that is exactly once)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlmeta.events.sinks import SinkError, kafka_record
from mlmeta.triggers.deadletter import Letter
from mlmeta.triggers.queue import BrokerErrors, QueueAddress, producer_config
from mlmeta.triggers.queue_events import BatchEvents
from mlmeta.triggers.queue_state import QueueError, SharedState, broker_reason


@dataclass
class Batch:
    messages: list[Any]
    deliveries: list[dict[str, Any]]

    def models(self, kind: str | None = None) -> set[str]:
        return {d["model"] for d in self.deliveries if kind is None or d["kind"] == kind}

    def only(self, models: set[str]) -> Batch:
        """These models' part (its messages stay the batch's: the offsets are committed together)."""
        return Batch(self.messages, [d for d in self.deliveries if d["model"] in models])

    def offsets(self) -> list[Any]:
        """The offsets to commit: past the last message of each partition."""
        from confluent_kafka import TopicPartition

        last: dict[tuple[str, int], int] = {}
        for m in self.messages:
            last[(m.topic(), m.partition())] = max(last.get((m.topic(), m.partition()), -1), m.offset())
        return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]

    def starts(self) -> list[Any]:
        """Where each partition's part of the batch begins: where a retry reads again."""
        from confluent_kafka import TopicPartition

        first: dict[tuple[str, int], int] = {}
        for m in self.messages:
            first.setdefault((m.topic(), m.partition()), m.offset())
        return [TopicPartition(topic, partition, offset) for (topic, partition), offset in first.items()]


class Transactions:
    """The worker's transactional producer (made again when it is fenced) and the transaction of each
    batch. ``window``: the longest a transaction may stay open, in seconds - the events to the other
    sinks, then the commit."""

    def __init__(self, queue: QueueAddress, group: str, errors: BrokerErrors, window: float, timeout: float,
                 progress: Callable[[str], None]) -> None:
        self.queue = queue
        self.group = group
        self.errors = errors
        self.window = window
        self.timeout = timeout
        self.progress = progress
        self.producer: Any = None

    def start(self) -> None:
        """The producer, its transactions initialised; QueueError when the broker's coordinator is not there."""
        self.producer = self._make()

    def _make(self) -> Any:
        from confluent_kafka import KafkaException, Producer

        # a worker's own id: KIP-447 fences a stale worker by the group's generation, not by this id
        name = f"{self.group}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        producer = Producer({**producer_config(self.queue.bootstrap, self.errors, self.window),
                             "transactional.id": name,
                             "transaction.timeout.ms": int(self.window * 1000)})
        deadline = time.monotonic() + self.window + 30
        while True:
            try:
                producer.init_transactions(self.timeout)
                return producer
            except KafkaException as error:
                # a broker that creates its transaction log (its first transaction) is "not coordinator" a while
                if not error.args[0].retriable() or time.monotonic() > deadline:
                    raise QueueError(f"the broker's transaction coordinator: {error.args[0].str()}") from None

    def commit(self, batch: Batch, letters: list[Letter], events: BatchEvents, state: SharedState,
               dead_letter_topic: str, consumer: Any) -> None:
        """Events, dead letters, state and offsets in one transaction; the other sinks inside its window.
        Anything failing aborts it all: QueueError."""
        from confluent_kafka import KafkaException

        try:
            if self.producer is None:  # the last one was fenced, and no new one could be made then
                self.producer = self._make()
            producer = self.producer
            producer.begin_transaction()
            for event in events.pending:
                for topic in events.transactional.values():
                    producer.produce(topic, **kafka_record(event.envelope(), event.key))
            producer.flush(self.window)  # on the broker (uncommitted) before the others get theirs
            events.send_to_others()
            for letter in letters:
                producer.produce(dead_letter_topic, key=letter.model.encode(),
                                 value=json.dumps({**letter.record(), "group": self.group}).encode())
            for key, record in state.staged.items():
                producer.produce(state.topic, key=key.encode(), value=json.dumps(record, sort_keys=True).encode())
            producer.send_offsets_to_transaction(batch.offsets(), consumer.consumer_group_metadata(), self.window)
            producer.commit_transaction(self.window)
        except (KafkaException, SinkError, BufferError) as error:
            self.abort(error)
            raise QueueError(f"the batch was not committed: {broker_reason(error)}") from None

    def abort(self, error: Exception | None) -> None:
        """Abort what the transaction wrote. A producer fenced for good, or one whose state is no
        longer known, is replaced; the broker aborts what it left open at the transaction's timeout."""
        from confluent_kafka import KafkaError, KafkaException

        if self.producer is not None and not (isinstance(error, KafkaException) and error.args[0].fatal()):
            try:
                self.producer.abort_transaction(self.window)
                return
            except KafkaException as again:
                if again.args[0].code() == KafkaError._STATE:
                    return  # no transaction was begun: nothing to abort
        try:
            self.producer = self._make()
        except QueueError as failure:
            self.producer = None  # made again before the next commit
            self.progress(f"work: {failure}")

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(5)
