"""A webhook for the receiver tests: the secret, an MLflow alias event, a signed delivery, and a wait for a
condition."""

from __future__ import annotations

import json
import time
import uuid

import requests

from mlmeta.triggers.webhook import signature

SECRET = "a-webhook-secret-for-tests"


def deliver(receiver, payload: dict, *, secret: str = SECRET, timestamp: float | None = None,
            delivery_id: str | None = None) -> requests.Response:
    body = json.dumps(payload).encode()
    delivery_id = delivery_id or uuid.uuid4().hex
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    return requests.post(receiver.url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": signature(secret, delivery_id, stamp, body)})


def alias_event(name: str, version: str = "1") -> dict:
    return {"entity": "model_version_alias", "action": "created", "timestamp": "2026-11-28T00:00:00Z",
            "data": {"name": name, "alias": "champion", "version": version}}


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()
