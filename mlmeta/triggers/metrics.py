"""``/metrics`` of ``webhook serve`` and ``webhook work``, in the Prometheus text format, through
prometheus-client.

Each receiver keeps its own registry (tests start several in one process); what changes between
scrapes by itself - the journal's and the spool's depth, the models set aside - is read at scrape
time. A sink is labelled by its name, which carries no credentials (``events.sinks.sink_name``).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mlmeta.events.sinks import Emitter
from mlmeta.triggers.follow import PassReport

CONTENT_TYPE = CONTENT_TYPE_LATEST
# seconds from the registry's promotion to the catalog write: a webhook answers in well under a
# second, a watcher within its interval, an outage in minutes
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    def __init__(self, journal_depth: Callable[[], int], queued_models: Callable[[], int], emitter: Emitter,
                 set_aside: Callable[[], int] = lambda: 0) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("mlmeta_promotions_received", "Deliveries accepted (journaled, answered 202).",
                                registry=self.registry)
        self.acted = Counter("mlmeta_promotions_acted", "Promotions acted on: published (or dispatched), with "
                                                        "their event.", registry=self.registry)
        self.failed = Counter("mlmeta_promotions_failed", "Promotions whose publish failed for a spec's reason.",
                              registry=self.registry)
        self.retried = Counter("mlmeta_promotions_retried", "Attempts that a server's failure made to try again.",
                               registry=self.registry)
        self.dead_lettered = Counter("mlmeta_deliveries_dead_lettered", "Deliveries set aside: their model failed on "
                                                                        "its own for a reason no retry fixes "
                                                                        "(a dead-letter record each).",
                                     registry=self.registry)
        self.latency = Histogram("mlmeta_promotion_latency_seconds", "Seconds from the registry's promotion to the "
                                                                     "catalog write.",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        Gauge("mlmeta_journal_depth", "Deliveries journaled and not yet acted on.",
              registry=self.registry).set_function(journal_depth)
        Gauge("mlmeta_queue_depth", "Registered models waiting to be acted on.",
              registry=self.registry).set_function(queued_models)
        Gauge("mlmeta_models_set_aside", "Registered models set aside now (/health says degraded, and why).",
              registry=self.registry).set_function(set_aside)
        self.registry.register(_SinkCollector(emitter))

    def count(self, report: PassReport) -> None:
        """What a pass acted on: promotions, the failed ones, and each one's latency when known."""
        for event, seconds in report.acted:
            self.acted.inc()
            if any(o.action == "failed" for o in event.outcomes):
                self.failed.inc()
            if seconds is not None:
                self.latency.observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _SinkCollector:
    """Events delivered (a counter) and waiting in the spool (a gauge), per sink, read from the emitter."""

    def __init__(self, emitter: Emitter) -> None:
        self.emitter = emitter

    def collect(self):
        delivered = CounterMetricFamily("mlmeta_events_delivered", "Events delivered, per sink.", labels=["sink"])
        spooled = GaugeMetricFamily("mlmeta_events_spooled", "Events waiting in the spool, per sink.", labels=["sink"])
        for sink in self.emitter.sinks:
            delivered.add_metric([sink.name], self.emitter.delivered_to.get(sink.name, 0))
            spooled.add_metric([sink.name], self.emitter.spooled_for.get(sink.name, 0))
        return [delivered, spooled]

