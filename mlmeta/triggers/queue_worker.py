"""``mlmeta webhook work --queue kafka://host:port/topic``: a worker of one consumer group, acting
on the deliveries the receivers put on the topic (``queue``) through ``follow.Follower`` - the
code path of ``watch`` and of the journaled ``webhook serve``.

Exactly once, and where it stops. A worker takes a batch of messages, and:

1. reads the group's shared state to its end: the promotion last acted on per watch key (the
   checkpoint's records), kept in a compacted topic every worker reads (``<topic>.<group>.state``),
   not on a worker's disk - so a worker that takes over a partition knows what the previous owner
   did, neither treating it as a fresh baseline (and swallowing an event) nor repeating one;
2. acts through the Follower: publishes, and collects the events and the new state records;
3. in one Kafka transaction: the events for each ``--sink kafka://`` on the queue's own cluster,
   the state records, and the batch's offsets (``send_offsets_to_transaction``); the events for
   the other sinks (JSON Lines, HTTP, Kafka elsewhere) are sent inside the transaction's window,
   before it commits. Then it commits.

A worker killed anywhere before the commit leaves nothing committed: the offsets are where they
were, and the partition's next owner acts again - the publish is idempotent (``unchanged``), and
the events it wrote are aborted, invisible to consumers reading with ``isolation.level=
read_committed``. A worker that stalls past ``max.poll.interval.ms`` and comes back is fenced by
the group's generation (KIP-447): its commit fails, its writes are aborted. So events to a Kafka
sink on the queue's cluster are exactly once for read_committed consumers; to the other sinks at
least once, with a stable CloudEvents id to drop duplicates on. An event a sink cannot take aborts
the batch, which is retried: the queue itself keeps it, no spool on a worker's disk.

The transaction is short - it starts after the publish - so a worker killed mid-publish holds up
its partitions only until the group notices (``session.timeout.ms``); one killed inside the window
holds them until the broker aborts its transaction (``transaction.timeout.ms``).

One model's failure holds up no other (``deadletter``): a batch whose pass fails for a reason of
its own (not a server's, not the configuration's) is acted on again one model at a time; a model
that fails alone is set aside - one dead-letter record per message on the topic
``<topic>.<group>.dead-letters``, written in the batch's transaction (with the other models'
events, state and the offsets), said once in the log, counted in ``/metrics``, named by
``/health`` (200 "degraded"). A model set aside is acted on alone in later batches, until it goes
through.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlmeta import secrets
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError
from mlmeta.events import PromotionEvent
from mlmeta.events.sinks import Sink, SinkError, kafka_record, parse_sink
from mlmeta.triggers import promotions
from mlmeta.triggers.deadletter import Letter, SetAside, health_of, reason_of, transient
from mlmeta.triggers.follow import CHECKPOINT_VERSION, Follower, PassReport
from mlmeta.triggers.metrics import Metrics
from mlmeta.triggers.outage import Outage
from mlmeta.triggers.queue import (
    KINDS,
    BrokerErrors,
    DeliveryQueue,
    QueueAddress,
    QueueUnavailable,
    client_config,
    connect,
    ensure_topic,
    producer_config,
)

log = logging.getLogger("mlmeta.queue")
BATCH = 100  # messages taken at once: a burst for one model is one pass
SESSION_TIMEOUT_MS = 10_000  # a worker that died loses its partitions after this long
MAX_POLL_INTERVAL_MS = 600_000  # a batch's publish may take this long before the worker is presumed stuck
BASELINE_DONE = "baseline"  # a state record of its own (watch keys hold a "|"): the group's first baseline ran


class QueueError(Exception):
    """The broker refused or did not finish a step of the batch; the batch is tried again."""


@dataclass
class WorkerOptions:
    queue: QueueAddress
    group: str  # its default is the command line's
    reconcile_interval: float = 3600.0  # seconds between reconcile messages; 0: only at start
    retry_interval: float = 5.0
    max_backoff: float = 300.0
    create_service: bool = False
    sinks: list[str] = field(default_factory=list)

    @property
    def state_topic(self) -> str:
        return f"{self.queue.topic}.{self.group}.state"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.queue.topic}.{self.group}.dead-letters"


# --- the group's shared state ---------------------------------------------------------------------


class SharedState:
    """The promotion last acted on per watch key: committed (read from the state topic) and staged
    (written by the batch under way, committed with it or discarded)."""

    def __init__(self, bootstrap: str, topic: str, group: str, admin: Any, errors: BrokerErrors,
                 wait: float) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.topic = topic
        self.committed: dict[str, dict[str, Any]] = {}
        self.staged: dict[str, dict[str, Any]] = {}
        self._admin = admin
        self._wait = wait
        self._partition = TopicPartition(topic, 0)
        self._position = 0
        # assigned, never subscribed: it reads the whole topic and commits nothing
        self._reader = Consumer({**client_config(bootstrap, errors), "group.id": f"{group}.state-reader",
                                 "isolation.level": "read_committed", "enable.auto.commit": False})
        self._reader.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

    def catch_up(self) -> None:
        """Read every record up to the topic's end as it is now, waiting for the transactions still
        open below it to end: a record the previous owner of a partition committed just before
        it stopped is read before its partition is acted on."""
        deadline = time.monotonic() + self._wait
        end = self._end(deadline)
        while self._position < end:
            if time.monotonic() > deadline:
                raise QueueError(f"the state topic {self.topic} was not read to its end within {self._wait:g} s "
                                 "(a transaction of a worker that stopped is still open)")
            record = self._reader.poll(0.5)
            if record is not None and record.error() is None:
                self.committed[record.key().decode()] = json.loads(record.value())
                self._position = record.offset() + 1
            # transaction markers and aborted records move the position without a record
            self._position = max(self._position, self._reader.position([self._partition])[0].offset)

    def _end(self, deadline: float) -> int:
        """The offset after the last record written, committed or not (a topic just created has
        no leader for a moment: asked again until ``deadline``)."""
        from confluent_kafka import IsolationLevel
        from confluent_kafka.admin import OffsetSpec

        while True:
            try:
                return self._admin.list_offsets({self._partition: OffsetSpec.latest()},
                                                isolation_level=IsolationLevel.READ_UNCOMMITTED,
                                                request_timeout=10)[self._partition].result().offset
            except Exception as error:  # noqa: BLE001 - KafkaException and its futures' errors alike
                if time.monotonic() > deadline:
                    raise QueueError(f"the state topic {self.topic} cannot be read: {_reason(error)}") from None
                time.sleep(0.5)
                self._admin.list_topics(self.topic, timeout=10)  # a leader that moved: the metadata is asked again

    def has_model(self, model: str) -> bool:
        return any(key.startswith(f"{model}|") for key in {**self.committed, **self.staged})

    def commit(self) -> None:
        self.committed.update(self.staged)
        self.staged.clear()

    def close(self) -> None:
        self._reader.close()


class SharedCheckpoint:
    """The Follower's checkpoint over ``SharedState``: it reads the committed and staged records,
    and writes stage the records that changed (never a whole file). ``fresh``: read as a new
    checkpoint (None), for a ``baseline`` message - what is in Production is recorded without events."""

    def __init__(self, shared: SharedState, url: str, fresh: bool = False) -> None:
        self.shared = shared
        self.path = url  # the Follower names its checkpoint by this
        self.fresh = fresh

    def read(self) -> dict[str, Any] | None:
        if self.fresh:
            return None
        return {"version": CHECKPOINT_VERSION, "keys": copy.deepcopy({**self.shared.committed, **self.shared.staged})}

    def write(self, data: dict[str, Any]) -> None:
        if self.fresh:  # the group has had its baseline: from now on the announcements are reconciles
            self.shared.staged.setdefault(BASELINE_DONE, {"at": time.time()})
        for key, record in data["keys"].items():
            if {**self.shared.committed, **self.shared.staged}.get(key) != record:
                self.shared.staged[key] = copy.deepcopy(record)


# --- events -----------------------------------------------------------------------------------------


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


# --- the worker ----------------------------------------------------------------------------------------


@dataclass
class _Batch:
    messages: list[Any]
    deliveries: list[dict[str, Any]]

    def models(self, kind: str | None = None) -> set[str]:
        return {d["model"] for d in self.deliveries if kind is None or d["kind"] == kind}

    def only(self, models: set[str]) -> _Batch:
        """These models' part (its messages stay the batch's: the offsets are committed together)."""
        return _Batch(self.messages, [d for d in self.deliveries if d["model"] in models])

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


class QueueWorker:
    def __init__(self, settings: Settings, options: WorkerOptions, progress: Callable[[str], None] = lambda line: None,
                 stopping: threading.Event | None = None) -> None:
        self.settings = settings
        self.options = options
        self.progress = progress
        self.stopping = stopping or threading.Event()
        timeout = settings.limits().timeout
        self.admin = connect(options.queue, timeout)
        cluster = self.admin.list_topics(timeout=timeout).cluster_id
        transactional, others = split_sinks(options.sinks, cluster, settings)
        self.events = BatchEvents(transactional, others)
        self.set_aside = SetAside(None)  # the records go to the dead-letter topic, with the commit
        self.metrics = Metrics(lambda: len(self._in_hand), lambda: len({d["model"] for d in self._in_hand}),
                               self.events, set_aside=lambda: len(self.set_aside.models))
        self.outage = Outage(progress, "work", options.retry_interval, options.max_backoff)
        self.not_ready: str | None = None
        self.assigned: set[int] = set()
        self._in_hand: list[dict[str, Any]] = []
        self._waiting = False  # a failed batch is read again once the servers answer
        self._errors = BrokerErrors()
        # the longest window of a transaction: the events to the other sinks, then the commit
        self._transaction_timeout = settings.limits().deadline + timeout + 10
        self.state: SharedState | None = None
        self._consumer: Any = None
        self._producer: Any = None
        self._announcer: DeliveryQueue | None = None
        self._follower: Follower | None = None
        self._baseliner: Follower | None = None

    # --- starting and stopping ---------------------------------------------------------------------

    def start(self) -> QueueWorker:
        from confluent_kafka import Consumer

        options = self.options
        timeout = self.settings.limits().timeout
        ensure_topic(self.admin, options.state_topic, timeout, partitions=1,
                     config={"cleanup.policy": "compact"})
        ensure_topic(self.admin, options.dead_letter_topic, timeout, partitions=1)
        self.state = SharedState(options.queue.bootstrap, options.state_topic, options.group, self.admin,
                                 self._errors, wait=self._transaction_timeout + 30)
        try:
            self.state.catch_up()
        except QueueError as error:
            raise ServerError(f"--queue {options.queue.url}: {error}") from None
        url = f"kafka://{options.queue.bootstrap}/{options.state_topic}"
        self._follower = self._make_follower(SharedCheckpoint(self.state, url))
        self._baseliner = self._make_follower(SharedCheckpoint(self.state, url, fresh=True))
        try:
            self._producer = self._transactional_producer()
        except QueueError as error:
            raise ServerError(f"--queue {options.queue.url}: {error}") from None
        self._consumer = Consumer({
            **client_config(options.queue.bootstrap, self._errors), "group.id": options.group,
            "enable.auto.commit": False, "isolation.level": "read_committed", "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky", "session.timeout.ms": SESSION_TIMEOUT_MS,
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS})
        self._consumer.subscribe([options.queue.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_revoke)
        self._announcer = DeliveryQueue(options.queue, timeout=timeout)
        where = ", ".join([f"{name} (exactly once, in the queue's transactions)" for name in self.events.transactional]
                          + [f"{s.name} (at least once)" for s in self.events.others]) or "nowhere"
        self.progress(f"work: consuming {options.queue.url} in group {options.group}; state in {options.state_topic}; "
                      f"events to {where}")
        return self

    def _make_follower(self, checkpoint: SharedCheckpoint) -> Follower:
        return Follower(self.settings, checkpoint, self.events, trigger="webhook",  # type: ignore[arg-type]
                        create_service=self.options.create_service, progress=self.progress, stopping=self.stopping)

    def _transactional_producer(self) -> Any:
        from confluent_kafka import KafkaException, Producer

        # a worker's own id: KIP-447 fences a stale worker by the group's generation, not by this id
        name = f"{self.options.group}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        producer = Producer({**producer_config(self.options.queue.bootstrap, self._errors,
                                               self._transaction_timeout),
                             "transactional.id": name,
                             "transaction.timeout.ms": int(self._transaction_timeout * 1000)})
        deadline = time.monotonic() + self._transaction_timeout + 30
        while True:
            try:
                producer.init_transactions(self.settings.limits().timeout)
                return producer
            except KafkaException as error:
                # a broker that creates its transaction log (its first transaction) is "not coordinator" a while
                if not error.args[0].retriable() or time.monotonic() > deadline:
                    raise QueueError(f"the broker's transaction coordinator: {error.args[0].str()}") from None

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        """Leave the group (its partitions go to the others at once) and close every client."""
        if self._consumer is not None:
            self._consumer.close()
        if self._announcer is not None:
            self._announcer.close()
        if self.state is not None:
            self.state.close()
        if self._producer is not None:
            self._producer.flush(5)
        self.events.close()

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.assigned |= {p.partition for p in partitions}
        if partitions:
            self.progress(f"work: partitions {_listed(partitions)} assigned (now {sorted(self.assigned)})")

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self.assigned -= {p.partition for p in partitions}
        if partitions:
            self.progress(f"work: partitions {_listed(partitions)} revoked (now {sorted(self.assigned)})")

    # --- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        next_reconcile = 0.0
        while not self.stopping.is_set():
            if self._waiting:
                self._wait_for_servers()
                continue
            if time.monotonic() >= next_reconcile:
                self._announce()
                next_reconcile = (time.monotonic() + self.options.reconcile_interval
                                  if self.options.reconcile_interval else float("inf"))
            messages = self._consumer.consume(BATCH, timeout=1.0)
            batch = self._batch([m for m in messages if self._readable(m)])
            if batch.messages:
                self._handle(batch)
        return 0

    def _announce(self) -> None:
        """Reconcile messages for every watched model - or, when the group's state is empty (its
        first start), baseline messages. The partitions' owners act on them."""
        from mlmeta.commands.validate import validate_files

        validation = validate_files(promotions.spec_files(self.settings, None), default_service=self.settings.service,
                                    service_required=True, policy=self.settings.card_policy)
        models = sorted({loaded.spec.registered_model for loaded in validation.specs()})
        kind = "reconcile" if self.state.committed else "baseline"
        for model in models:
            try:
                self._announcer.put(kind, model)
            except QueueUnavailable as error:  # the next interval tries again
                self.progress(f"work: could not queue the {kind} of {model}: {error}")
                return
        self.progress(f"work: queued a {kind} of {len(models)} watched model(s)")

    def _readable(self, message: Any) -> bool:
        if message.error() is None:
            return True
        self.progress(f"work: the queue: {message.error().str()}")
        return False

    def _batch(self, messages: list[Any]) -> _Batch:
        deliveries = []
        for m in messages:
            try:
                delivery = json.loads(m.value())
                if delivery.get("kind") in KINDS and isinstance(delivery["model"], str):
                    deliveries.append(delivery)
                    continue
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
            self.progress(f"work: skipping a message that mlmeta did not write (partition {m.partition()}, "
                          f"offset {m.offset()})")
        return _Batch(messages, deliveries)

    def _handle(self, batch: _Batch) -> None:
        self._in_hand = batch.deliveries
        try:
            reports, letters = self._act_isolating(batch)
            if any(r.transient for r in reports):
                failed = sorted({name for r in reports for name in r.transient})
                raise ServerError(f"a server failed while publishing {', '.join(failed)}")
            self._commit(batch, letters)
        except (ServerError, QueueError, SinkError) as error:
            self._retry_later(batch, str(error))
            return
        except ConfigError as error:  # a wrong token does not fix itself: the deliveries wait in the queue
            self.not_ready = str(error)
            self._retry_later(batch, f"{error}; the deliveries wait in the queue until this is fixed")
            return
        except Exception as error:  # noqa: BLE001 - the worker must survive a bug in one batch; the batch waits
            log.error("work: acting on %s failed: %s", ", ".join(sorted(batch.models())), reason_of(error))
            self._abort(None)
            self._retry_later(batch, "an internal error (see the log)")
            return
        finally:
            self._in_hand = []
        self.not_ready = None
        self.outage.recovered()
        for report in reports:
            self._account(report)
        self._said_aside(batch, letters)

    def _act_isolating(self, batch: _Batch) -> tuple[list[PassReport], list[Letter]]:
        """The batch's passes: the models set aside before each alone, the others together - and
        a pass that fails for a reason of its own, one model at a time; a model failing alone is
        dead-lettered, the others go on."""
        aside = batch.models() & self.set_aside.models.keys()
        reports: list[PassReport] = []
        letters: list[Letter] = []
        for models in [batch.models() - aside] + [{model} for model in sorted(aside)]:
            if models:
                self._act_on(batch.only(models), reports, letters)
        return reports, letters

    def _act_on(self, part: _Batch, reports: list[PassReport], letters: list[Letter]) -> None:
        staged, pending = dict(self.state.staged), len(self.events.pending)
        try:
            reports += self._act(part)
            return
        except Exception as error:  # noqa: BLE001 - whatever one model's data makes fail, the others go on
            if transient(error) or isinstance(error, (QueueError, SinkError)):
                raise
            failure = error
        self.state.staged.clear()  # what the failed pass staged and collected: not committed, not sent
        self.state.staged.update(staged)
        del self.events.pending[pending:]
        models = sorted(part.models())
        if len(models) > 1:
            self.progress(f"work: acting on {', '.join(models)} failed ({reason_of(failure)}); "
                          "acting on each model alone")
            for model in models:
                self._act_on(part.only({model}), reports, letters)
            return
        reason, now = reason_of(failure), time.time()
        letters += [Letter(d["model"], d.get("delivery"), d.get("event") or d["kind"], reason, now)
                    for d in part.deliveries]

    def _said_aside(self, batch: _Batch, letters: list[Letter]) -> None:
        """Once the batch is committed: models newly set aside said once, the others cleared."""
        for model in self.set_aside.add(letters):
            self.progress(f"work: {model} set aside ({self.set_aside.models[model]}); its messages are recorded "
                          f"on {self.options.dead_letter_topic}; the other models go on")
        self.metrics.dead_lettered.inc(len(letters))
        for model in self.set_aside.cleared(sorted(batch.models() - {letter.model for letter in letters})):
            self.progress(f"work: {model} went through again; no longer set aside")

    def _act(self, batch: _Batch) -> list[PassReport]:
        """The Follower's passes over the batch's models: a baseline for the models of baseline
        messages that the group has no record of, the usual pass for the rest. A delivery is a
        promotion MLflow announced: its model gets the usual pass (and its event), baseline or not."""
        self.state.catch_up()
        fresh = {m for m in batch.models("baseline") - batch.models("delivery") if not self.state.has_model(m)}
        rest = sorted(batch.models() - fresh)
        announced = {d["model"]: d["announced"] for d in batch.deliveries if d["kind"] == "delivery"}
        self.progress(f"work: acting on {', '.join(sorted(batch.models()))} "
                      f"({len(batch.messages)} message(s), partitions {_listed(batch.starts())})")
        reports = [self._baseliner.follow(sorted(fresh))] if fresh else []
        if rest:
            reports.append(self._follower.follow(rest, announced=announced))
        return reports

    def _commit(self, batch: _Batch, letters: list[Letter]) -> None:
        """Events, dead letters, state and offsets in one transaction; the other sinks inside its window."""
        from confluent_kafka import KafkaException

        try:
            if self._producer is None:  # the last one was fenced, and no new one could be made then
                self._producer = self._transactional_producer()
            producer = self._producer
            producer.begin_transaction()
            for event in self.events.pending:
                for topic in self.events.transactional.values():
                    producer.produce(topic, **kafka_record(event.envelope(), event.key))
            producer.flush(self._transaction_timeout)  # on the broker (uncommitted) before the others get theirs
            self.events.send_to_others()
            for letter in letters:
                producer.produce(self.options.dead_letter_topic, key=letter.model.encode(),
                                 value=json.dumps({**letter.record(), "group": self.options.group}).encode())
            for key, record in self.state.staged.items():
                producer.produce(self.state.topic, key=key.encode(), value=json.dumps(record, sort_keys=True).encode())
            producer.send_offsets_to_transaction(batch.offsets(), self._consumer.consumer_group_metadata(),
                                                 self._transaction_timeout)
            producer.commit_transaction(self._transaction_timeout)
        except (KafkaException, SinkError, BufferError) as error:
            self._abort(error)
            raise QueueError(f"the batch was not committed: {_reason(error)}") from None
        for name in self.events.transactional:
            self.events.count(name, len(self.events.pending))
        self.state.commit()
        self.events.pending.clear()
        self.progress(f"work: committed {len(batch.messages)} message(s) (partitions {_listed(batch.offsets())})")

    def _abort(self, error: Exception | None) -> None:
        """Abort what the transaction wrote. A producer fenced for good, or one whose state is no
        longer known, is replaced; the broker aborts what it left open at the transaction's timeout."""
        from confluent_kafka import KafkaError, KafkaException

        if self._producer is not None and not (isinstance(error, KafkaException) and error.args[0].fatal()):
            try:
                self._producer.abort_transaction(self._transaction_timeout)
                return
            except KafkaException as again:
                if again.args[0].code() == KafkaError._STATE:
                    return  # no transaction was begun: nothing to abort
        try:
            self._producer = self._transactional_producer()
        except QueueError as failure:
            self._producer = None  # made again before the next commit
            self.progress(f"work: {failure}")

    def _retry_later(self, batch: _Batch, cause: str) -> None:
        """Nothing of the batch is kept: read it again once the servers answer (or after a backoff)."""
        self.state.staged.clear()
        self.events.pending.clear()
        self.metrics.retried.inc(len(batch.deliveries))
        for start in batch.starts():
            if start.partition in self.assigned:
                self._consumer.seek(start)
        self._waiting = True
        self.outage.failed(cause)

    def _wait_for_servers(self) -> None:
        """Hold the partitions (paused; the group still sees the worker alive) until the batch may
        be tried again."""
        assignment = self._consumer.assignment()
        self._consumer.pause(assignment)
        stray = self._consumer.poll(min(1.0, self.options.retry_interval))  # rebalances happen in here
        if stray is not None and stray.error() is None:  # a partition assigned meanwhile, not paused yet
            from confluent_kafka import TopicPartition

            self._consumer.seek(TopicPartition(stray.topic(), stray.partition(), stray.offset()))
        if self.outage.may_retry(self.settings):
            self._consumer.resume(self._consumer.assignment())
            self._waiting = False

    def _account(self, report: PassReport) -> None:
        for line in report.problems:
            self.progress(f"work: {line}")
        self.metrics.count(report)

    def health(self) -> tuple[int, dict[str, Any]]:
        document = {"queue": self.options.queue.url, "group": self.options.group,
                    "partitions": sorted(self.assigned), "servers": "down" if self.outage.down else "answering"}
        if self.not_ready:
            return 503, secrets.redact_data({"status": "not ready", "reason": self.not_ready, **document})
        aside = self.set_aside.snapshot()
        if aside:  # 200: the other models go on
            return 200, secrets.redact_data({**health_of(aside), **document})
        return 200, {"status": "ok", **document}


def _listed(partitions: list[Any]) -> str:
    return ", ".join(str(p) for p in sorted({p.partition for p in partitions}))


def _reason(error: Exception) -> str:
    from confluent_kafka import KafkaException

    return error.args[0].str() if isinstance(error, KafkaException) else str(error)
