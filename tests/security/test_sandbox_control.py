"""The sandbox's control routes (``/_sandbox/``: counters, faults, reset) answer its admin only.

Before issue 30 anyone who could reach the port could reset the catalog or make every request
fail. The quickstart's public admin token, which the ``/api`` routes accept as a quickstart server
does, must not open them either: it is printed in OpenMetadata's docs.
"""

from __future__ import annotations

import jwt
import pytest
import requests

from mlmeta.standins.openmetadata import FaultSettings
from mlmeta.standins.openmetadata.tokens import QUICKSTART_ADMIN

ROUTES = [("GET", "/_sandbox/stats"), ("DELETE", "/_sandbox/stats"), ("GET", "/_sandbox/faults"),
          ("PUT", "/_sandbox/faults"), ("POST", "/_sandbox/reset")]
STRIKE = {"failure_rate": 1.0, "statuses": [503]}  # what an intruder would set: every request fails
MODEL = {"name": "kept", "service": "mlflow_models", "algorithm": "GradientBoosting"}


def publish(sandbox) -> str:
    answer = requests.put(f"{sandbox.api_url}/v1/mlmodels", json=MODEL, timeout=10,
                          headers={"Authorization": f"Bearer {sandbox.token('mlmeta-bot')}"})
    assert answer.status_code == 201, answer.text
    return answer.json()["fullyQualifiedName"]


def still_published(sandbox, name: str) -> bool:
    answer = requests.get(f"{sandbox.api_url}/v1/mlmodels/name/{name}", timeout=10,
                          headers={"Authorization": f"Bearer {sandbox.token('mlmeta-bot')}"})
    return answer.status_code == 200


def control(sandbox, method: str, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, sandbox.url + path, json=STRIKE if method == "PUT" else None, headers=headers,
                            timeout=10)


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_control_route_without_a_token_is_refused_and_changes_nothing(sandbox, method, path):
    name = publish(sandbox)
    counters = sandbox.stats()
    answer = control(sandbox, method, path, None)
    assert answer.status_code == 401
    assert set(answer.json()) == {"code", "message"}  # neither counters nor fault settings
    assert sandbox.stats() == counters
    assert sandbox.app.faults.settings == FaultSettings()
    assert still_published(sandbox, name)


def forged_admin_token() -> str:
    """Well formed, for the admin, signed with a secret that is not the sandbox's."""
    claims = {"sub": "admin", "iss": "open-metadata.org", "isBot": False}
    return jwt.encode(claims, "a secret someone guessed, 32 bytes or more", algorithm="HS256")


@pytest.mark.parametrize("who, status", [("mlmeta-bot", 403), ("alice", 403), ("dana", 403),
                                         ("quickstart admin", 403), ("forged admin", 401)])
def test_only_the_sandbox_admin_may_inject_faults_or_reset(sandbox, who, status):
    token = {"quickstart admin": QUICKSTART_ADMIN, "forged admin": forged_admin_token()}.get(who)
    token = token or sandbox.token(who)
    name = publish(sandbox)
    for method, path in (("PUT", "/_sandbox/faults"), ("POST", "/_sandbox/reset")):
        answer = control(sandbox, method, path, token)
        assert answer.status_code == status, (who, path, answer.text)
    assert sandbox.app.faults.settings == FaultSettings()
    assert still_published(sandbox, name)


def test_the_quickstart_admin_token_still_opens_the_api(sandbox):
    """What OpenMetadata's own clients rely on is kept: the refusal is for /_sandbox/ only."""
    answer = requests.get(f"{sandbox.api_url}/v1/tables/name/demo_pg.postgres.public.users", timeout=10,
                          headers={"Authorization": f"Bearer {QUICKSTART_ADMIN}"})
    assert answer.status_code == 200


@pytest.mark.parametrize("method, path", ROUTES)
def test_the_sandbox_admin_uses_every_control_route(sandbox, method, path):
    name = publish(sandbox)
    answer = control(sandbox, method, path, sandbox.token("admin"))
    assert answer.status_code == 200, answer.text
    if path == "/_sandbox/reset":
        assert not still_published(sandbox, name)
    if method == "PUT":
        assert sandbox.app.faults.settings.failure_rate == 1.0
