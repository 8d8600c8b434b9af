"""The state a queue worker's consumer group shares: the promotion last acted on per watch key, in a
compacted topic every worker reads (``<topic>.<group>.state``), not on a worker's disk - and the
Follower's checkpoint over it (see ``queue_worker`` for how a batch commits it)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from mlmeta.triggers.follow import CHECKPOINT_VERSION
from mlmeta.triggers.queue import BrokerErrors, client_config

BASELINE_DONE = "baseline"  # a state record of its own (watch keys hold a "|"): the group's first baseline ran


class QueueError(Exception):
    """The broker refused or did not finish a step of the batch; the batch is tried again."""



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
                    raise QueueError(f"the state topic {self.topic} cannot be read: {broker_reason(error)}") from None
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


def broker_reason(error: Exception) -> str:
    """What went wrong, in the broker's words when it was the broker."""
    from confluent_kafka import KafkaException

    return error.args[0].str() if isinstance(error, KafkaException) else str(error)
