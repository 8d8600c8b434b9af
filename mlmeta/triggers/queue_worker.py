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

This module is the worker: its wiring, its consumer loop and how it acts on a batch. The group's
shared state is ``queue_state``, the batch's events ``queue_events``, the batch and its transaction
``queue_batch``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlmeta import secrets
from mlmeta.config import Settings
from mlmeta.errors import ConfigError, ServerError
from mlmeta.events.sinks import SinkError
from mlmeta.triggers import promotions
from mlmeta.triggers.deadletter import Letter, SetAside, health_of, reason_of, transient
from mlmeta.triggers.follow import Follower, PassReport
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
)
from mlmeta.triggers.queue_batch import Batch, Transactions
from mlmeta.triggers.queue_events import BatchEvents, split_sinks
from mlmeta.triggers.queue_state import QueueError, SharedCheckpoint, SharedState

log = logging.getLogger("mlmeta.queue")
BATCH = 100  # messages taken at once: a burst for one model is one pass
SESSION_TIMEOUT_MS = 10_000  # a worker that died loses its partitions after this long
MAX_POLL_INTERVAL_MS = 600_000  # a batch's publish may take this long before the worker is presumed stuck


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


class QueueWorker:
    """One worker of the group: it starts its clients, takes batches in a loop and acts on each."""

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
        self._transactions = Transactions(options.queue, options.group, self._errors,
                                          window=settings.limits().deadline + timeout + 10, timeout=timeout,
                                          progress=progress)
        self.state: SharedState | None = None
        self._consumer: Any = None
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
                                 self._errors, wait=self._transactions.window + 30)
        try:
            self.state.catch_up()
        except QueueError as error:
            raise ServerError(f"--queue {options.queue.url}: {error}") from None
        url = f"kafka://{options.queue.bootstrap}/{options.state_topic}"
        self._follower = self._make_follower(SharedCheckpoint(self.state, url))
        self._baseliner = self._make_follower(SharedCheckpoint(self.state, url, fresh=True))
        try:
            self._transactions.start()
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
        self._transactions.close()
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

    def _batch(self, messages: list[Any]) -> Batch:
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
        return Batch(messages, deliveries)

    def _handle(self, batch: Batch) -> None:
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
            self._transactions.abort(None)
            self._retry_later(batch, "an internal error (see the log)")
            return
        finally:
            self._in_hand = []
        self.not_ready = None
        self.outage.recovered()
        for report in reports:
            self._account(report)
        self._said_aside(batch, letters)

    def _act_isolating(self, batch: Batch) -> tuple[list[PassReport], list[Letter]]:
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

    def _act_on(self, part: Batch, reports: list[PassReport], letters: list[Letter]) -> None:
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

    def _said_aside(self, batch: Batch, letters: list[Letter]) -> None:
        """Once the batch is committed: models newly set aside said once, the others cleared."""
        for model in self.set_aside.add(letters):
            self.progress(f"work: {model} set aside ({self.set_aside.models[model]}); its messages are recorded "
                          f"on {self.options.dead_letter_topic}; the other models go on")
        self.metrics.dead_lettered.inc(len(letters))
        for model in self.set_aside.cleared(sorted(batch.models() - {letter.model for letter in letters})):
            self.progress(f"work: {model} went through again; no longer set aside")

    def _act(self, batch: Batch) -> list[PassReport]:
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

    def _commit(self, batch: Batch, letters: list[Letter]) -> None:
        self._transactions.commit(batch, letters, self.events, self.state, self.options.dead_letter_topic,
                                  self._consumer)
        for name in self.events.transactional:
            self.events.count(name, len(self.events.pending))
        self.state.commit()
        self.events.pending.clear()
        self.progress(f"work: committed {len(batch.messages)} message(s) (partitions {_listed(batch.offsets())})")

    def _retry_later(self, batch: Batch, cause: str) -> None:
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
