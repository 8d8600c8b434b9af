"""mlmeta's receiver and queue worker as processes for the queue tests: started, waited for, scraped, and
the Kafka topic read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from tests.helpers.webhooks import SECRET, wait_for


class Mlmeta:
    """``python -m mlmeta ARGS`` in its own process, its stderr in a file the test reads."""

    def __init__(self, name: str, args: list[str], folder: Path) -> None:
        self.log = folder / f"{name}.log"
        env = {**os.environ, "MLMETA_WEBHOOK_SECRET": SECRET, "PYTHONWARNINGS": "ignore"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "mlmeta", *args], stdout=subprocess.DEVNULL,
                                            stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=os.getcwd())

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def listening(ready_file: Path) -> str:
    """The URL a receiver wrote to its --ready-file, once it is written whole."""

    def written() -> str | None:
        try:
            return json.loads(ready_file.read_text())["url"]
        except (OSError, ValueError):
            return None

    wait_for(lambda: written() is not None, 60)
    return written()


def read_events(bootstrap: str, topic: str, count: int, *, linger: float = 3.0,
                isolation: str = "read_committed") -> list:
    """The events of ``topic`` as a consumer with this isolation level sees them: until ``count``
    distinct ids arrived, then ``linger`` seconds more, so that a duplicate would be seen too."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest", "isolation.level": isolation})
    consumer.subscribe([topic])
    messages, until = [], time.monotonic() + 120
    try:
        while time.monotonic() < until:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(json.loads(message.value()))
            if len({m["id"] for m in messages}) >= count:
                until = min(until, time.monotonic() + linger)
    finally:
        consumer.close()
    return messages


def scrape(url: str) -> dict[str, float]:
    """The unlabelled samples of /metrics on ``url``'s server, read with the Prometheus client's own
    text parser."""
    from urllib.parse import urlsplit

    from prometheus_client.parser import text_string_to_metric_families

    parts = urlsplit(url)
    text = requests.get(f"{parts.scheme}://{parts.netloc}/metrics", timeout=10).text
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}
