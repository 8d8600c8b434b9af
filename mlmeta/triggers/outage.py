"""Riding out a server that is down: a cheap probe keeps the pace while the heavy work waits, and
the log says once that a server is down and once that it is back.

A pass (a registry read, a publish) that fails because a server is down is not simply retried
with a doubling wait: that is how a catalog down for 30 s got its promotion 31-36 s after it came
back. Instead ``probe`` asks each server one cheap question (OpenMetadata's version, MLflow's
health) every interval - one request each, no retries - and the pass runs again as soon as both
answer. Only a pass that keeps failing while the servers answer (a server that is up but refuses
the work) backs off, exponentially, up to a ceiling.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from mlmeta.config import Settings
from mlmeta.errors import MlmetaError
from mlmeta.http import HttpClient, HttpFailure, Limits
from mlmeta.registry.table import kind_of


def probe(settings: Settings) -> str | None:
    """None when OpenMetadata and the registry both answer; else which one does not, and why."""
    quick = Limits(timeout=min(5.0, settings.limits().timeout), deadline=5.0, attempts=1)
    checks = [("OpenMetadata", settings.api_url(), "/v1/system/version", settings.tls_verify())]
    target = kind_of(settings.registry).probe(settings)
    checks.append((target.server, target.base_url, target.path, target.verify))
    for server, base, path, verify in checks:
        client = HttpClient(base, server=server, setting=server, limits=quick, verify=verify)
        try:
            answer = client.request("GET", path)
        except (MlmetaError, HttpFailure) as error:
            return f"{server}: {error}"
        if answer.status >= 500:
            return f"{server} answers HTTP {answer.status}"
    return None


class Outage:
    """Whether the servers are down, since when and why - said once each way - and when the heavy
    work may run again: at once when a probe finds them answering after the first failure; after
    a growing wait when passes keep failing while they answer."""

    def __init__(self, say: Callable[[str], None], who: str, retry_every: float, ceiling: float = 300.0) -> None:
        self.say = say
        self.who = who
        self.retry_every = retry_every
        self.ceiling = ceiling
        self.since: float | None = None
        self.failed_passes = 0
        self._next_pass = 0.0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, cause: str) -> None:
        self.failed_passes += 1
        now = time.monotonic()
        # spreads retries, guards nothing (B311)
        jitter = random.uniform(0.8, 1.0)  # nosec B311
        wait = 0.0 if self.failed_passes == 1 else min(
            self.ceiling, self.retry_every * 2 ** (self.failed_passes - 1)) * jitter
        self._next_pass = now + wait
        if self.since is None:
            self.since = now
            self.say(f"{self.who}: {cause}; probing every {self.retry_every:g} s, and catching up once it answers")

    def may_retry(self, settings: Settings) -> bool:
        """Whether the heavy work may run now: the servers answer a probe, and it is not backing off."""
        return time.monotonic() >= self._next_pass and probe(settings) is None

    def recovered(self) -> None:
        if self.since is not None:
            self.say(f"{self.who}: the servers answer again after {time.monotonic() - self.since:.0f} s; caught up")
        self.since = None
        self.failed_passes = 0
