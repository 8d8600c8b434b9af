"""One redaction path: registered secrets in every form they travel in, URL credentials, token
query values, Authorization values - and sink URLs, which appear nowhere but in the configuration
(not in messages, ``/metrics`` labels, the spool or events)."""

from __future__ import annotations

import base64
import os
import stat
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeta import secrets
from mlmeta.events.sinks import Emitter, parse_sink
from mlmeta.http import Limits
from mlmeta.triggers.metrics import Metrics
from tests.helpers.events import event


@pytest.fixture(autouse=True, scope="module")
def _forget_test_secrets():
    """The secrets these tests register (hypothesis makes up hundreds) must not mask other tests' text."""
    with secrets._lock:
        kept = set(secrets._secrets)
    yield
    with secrets._lock:
        secrets._secrets.intersection_update(kept)
        secrets._ordered[:] = sorted(secrets._secrets, key=len, reverse=True)


@pytest.mark.parametrize("text", [
    "MLflow at http://alice:pw-{s}@mlflow:5000 refused the request",
    "GET https://mlflow.example.com/api?token={s}&x=1 failed",
    "https://{s}@github.com/org/repo.git",
    "{{'Authorization': 'Bearer {s}'}}",
    "Authorization: Basic {b}",
    "authorization=token {s}",
])
def test_credentials_are_masked_wherever_they_appear(text):
    secret = "Zq8x" * 5
    shown = secrets.redact(text.format(s=secret, b=base64.b64encode(f"alice:{secret}".encode()).decode()))
    assert secret not in shown and "***" in shown
    assert base64.b64encode(f"alice:{secret}".encode()).decode() not in shown


def test_a_registered_secret_is_masked_in_each_form_it_travels_in():
    secret = "tok/en+with:odd=chars-9f3k2"
    secrets.register(secret)
    for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
                 base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="), '"tok/en+with:odd=chars-9f3k2"'):
        assert secrets.redact(f"before {form} after") == "before *** after" or secret not in secrets.redact(form)
        assert form.strip('"') not in secrets.redact(f"before {form} after")


def test_basic_auth_from_a_tracking_uri_is_masked_in_its_base64_form():
    secrets.register_url("http://carol:pa55-w0rd-xyz@mlflow:5000")
    encoded = base64.b64encode(b"carol:pa55-w0rd-xyz").decode()
    assert secrets.redact(f"sent {encoded}") == "sent ***"


@given(st.text(max_size=60), st.text(st.characters(categories=["L", "N"]), min_size=8, max_size=30),
       st.text(max_size=60))
def test_a_registered_secret_never_survives_redaction_whatever_surrounds_it(before, secret, after):
    secrets.register(secret)
    shown = secrets.redact(before + secret + after)
    assert secret not in shown
    assert secrets.redact(shown) == shown


def test_sink_urls_appear_nowhere_but_in_the_configuration(tmp_path):
    secret = "hook-" + "k3y" * 6
    url = f"http://bob:{secret}@127.0.0.1:9/hooks/{secret}?access_token={secret}"
    sink = parse_sink(url, Limits(timeout=1, deadline=1, attempts=1))
    spool = tmp_path / ".mlmeta" / "events.spool.jsonl"
    emitter = Emitter([sink], spool)
    problems = emitter.emit([event()])  # the port is closed: the event waits in the spool
    metrics = Metrics(lambda: 0, lambda: 0, emitter).text().decode()
    seen = "\n".join([sink.name, *problems, metrics, spool.read_text()])
    assert secret not in seen and "bob" not in seen
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o600
    # the spooled event finds its sink again in the next run
    again = Emitter([parse_sink(url, Limits(timeout=1, deadline=1, attempts=1))], spool)
    assert again._read_spool()[0][0] == sink.name


def test_an_events_text_from_the_registry_is_redacted_before_any_sink_sees_it():
    secrets.register("registry-side-" + "s3cr3t" * 3)
    leaky = event()
    leaky.model_version["description"] = "trained with registry-side-" + "s3cr3t" * 3
    assert "s3cr3t" not in str(leaky.envelope())
