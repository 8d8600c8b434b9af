"""Latency, injected failures, dropped connections and request counters."""

from __future__ import annotations

import time

import pytest
import requests
from tests.helpers import sdk

USERS = "demo_pg.postgres.public.users"


def admin(sandbox) -> dict[str, str]:
    """The sandbox's control routes answer its admin (tests/security/test_sandbox_control.py)."""
    return {"Authorization": f"Bearer {sandbox.token('admin')}"}


def test_counters_count_by_method_and_route_and_reset(om, sandbox):
    client = om()
    client.get_by_name(sdk.Table, USERS)
    client.get_by_name(sdk.Table, USERS)
    stats = sandbox.stats()
    assert stats["requests"]["GET /v1/tables/name/{key}"] == 2
    assert stats["requests"]["GET /v1/system/version"] == 1
    assert stats["total"] == 3
    requests.delete(f"{sandbox.url}/_sandbox/stats", headers=admin(sandbox), timeout=5)
    assert sandbox.stats()["total"] == 0


def test_fixed_latency_is_added_to_every_request(om, sandbox):
    client = om()
    sandbox.set_faults(latency_ms=50)
    start = time.perf_counter()
    for _ in range(4):
        client.get_by_name(sdk.Table, USERS)
    assert time.perf_counter() - start >= 0.2


def test_failures_have_the_chosen_status_and_429_says_when_to_retry(om, sandbox):
    client = om(retry=0, limit_codes=[], retry_codes=[])
    sandbox.set_faults(failure_rate=1.0, statuses=[503])
    with pytest.raises(sdk.APIError) as error:
        client.get_by_name(sdk.Table, USERS)
    assert error.value.status_code == 503
    sandbox.set_faults(statuses=[429], retry_after=7)
    answer = requests.get(f"{sandbox.api_url}/v1/tables/name/{USERS}", timeout=5,
                          headers={"Authorization": f"Bearer {sandbox.token()}"})
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "7")
    assert sandbox.stats()["faulted_total"] == 2


def test_dropped_connections_reach_the_client_as_transport_errors(om, sandbox):
    client = om(retry=0)
    sandbox.set_faults(drop_rate=1.0)
    with pytest.raises(sdk.RestTransportError):
        client.get_by_name(sdk.Table, USERS)


def test_faults_after_the_write_apply_it_but_lose_the_answer(om, sandbox):
    from tests.helpers.sandbox import model_request

    client = om(retry=0, retry_codes=[])
    request = model_request(client)
    sandbox.set_faults(failure_rate=1.0, statuses=[502], phase="after", methods=["PUT"])
    with pytest.raises(sdk.APIError):
        client.create_or_update(request)
    sandbox.clear_faults()
    assert client.get_by_name(sdk.MlModel, "mlflow_models.churn") is not None


def test_faults_can_be_set_at_run_time_over_http_and_are_validated(sandbox):
    faults = f"{sandbox.url}/_sandbox/faults"
    answer = requests.put(faults, json={"latency_ms": 5, "failure_rate": 0.25}, headers=admin(sandbox), timeout=5)
    assert answer.status_code == 200 and answer.json()["failure_rate"] == 0.25
    bad = requests.put(faults, json={"statuses": [418]}, headers=admin(sandbox), timeout=5)
    assert bad.status_code == 400 and "statuses must be among" in bad.json()["message"]
    assert requests.get(faults, headers=admin(sandbox), timeout=5).json()["latency_ms"] == 5


def test_a_failure_rate_fails_about_that_share_of_requests(sandbox):
    sandbox.set_faults(failure_rate=0.3, statuses=[503, 504], seed=7)
    headers = {"Authorization": f"Bearer {sandbox.token()}"}
    with requests.Session() as session:
        codes = [session.get(f"{sandbox.api_url}/v1/tables/name/{USERS}", headers=headers, timeout=5).status_code
                 for _ in range(200)]
    failed = sum(code in (503, 504) for code in codes)
    assert 40 <= failed <= 80 and set(codes) <= {200, 503, 504}
