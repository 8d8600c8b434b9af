"""Parallel clients leave consistent state; a state file survives restarts; the CLI serves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.helpers import sdk
from tests.helpers.files import REPO
from tests.helpers.sandbox import model_request


def test_parallel_creates_and_patches_stay_consistent(om, sandbox):
    client = om()
    requests_ = [model_request(client, name=f"m{i}") for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda r: om().create_or_update(r), requests_ * 2))  # every model twice
    assert len({m.id.root for m in created}) == 16 and all(m.version.root == 0.1 for m in created)

    target = created[0]
    path = f"{sandbox.api_url}/v1/mlmodels/{target.id.root}"

    def patch_until_it_lands(text: str) -> int:
        headers = {"Authorization": f"Bearer {sandbox.token('admin')}",
                   "Content-Type": "application/json-patch+json"}
        while True:  # optimistic locking: read the version, patch with If-Match, retry on 412
            current = requests.get(path, headers=headers, timeout=10).json()["version"]
            answer = requests.patch(path, json=[{"op": "replace", "path": "/description", "value": text}],
                                    headers={**headers, "If-Match": f'W/"{current}"'}, timeout=10)
            if answer.status_code != 412:
                return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(patch_until_it_lands, [f"text {i}" for i in range(12)]))
    assert statuses == [200] * 12
    final = client.get_by_id(sdk.MlModel, target.id)
    assert final.version.root == round(0.1 + 12 * 0.1, 1)  # each landed patch made exactly one version
    assert len(client.get_list_entity_versions(target.id, sdk.MlModel).versions) == 13


def test_state_file_keeps_published_models_across_restarts(tmp_path):
    from mlmeta.standins.openmetadata import Sandbox

    state = tmp_path / "state.json"
    with Sandbox(state_file=state) as first:
        client = first.client()
        model = client.create_or_update(model_request(client))
    with Sandbox(state_file=state) as second:  # another port: links follow the new address
        client = second.client()
        again = client.get_by_name(sdk.MlModel, "mlflow_models.churn")
        assert again.id == model.id
        assert str(again.href.root).startswith(second.api_url)


def test_the_cli_serves_writes_private_tokens_and_stops_on_sigterm(tmp_path):
    ready, tokens = tmp_path / "ready.json", tmp_path / "tokens.json"
    process = subprocess.Popen([sys.executable, "-m", "mlmeta", "sandbox", "--port", "0", "--ready-file", str(ready),
                                "--token-file", str(tokens), "--latency-ms", "1"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline and process.poll() is None:
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        token = json.loads(tokens.read_text())["mlmeta-bot"]
        assert os.stat(tokens).st_mode & 0o777 == 0o600
        answer = requests.get(info["api_url"] + "/v1/tables/name/demo_pg.postgres.public.users",
                              headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "listening on http://127.0.0.1:" in out and token not in out + err


def test_the_cli_refuses_bad_fault_settings(cli):
    result = cli("sandbox", "--failure-rate", "2")
    assert result.exit_code == 2 and "--failure-rate 2.0: a share of the requests, between 0 and 1" in result.stderr


def test_tokens_go_outside_the_repository_by_default_and_export_in_one_line(tmp_path):
    ready, cache = tmp_path / "ready.json", tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-m", "mlmeta", "sandbox", "--port", "0", "--ready-file", str(ready)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline and process.poll() is None:
            time.sleep(0.2)
        info = json.loads(ready.read_text())
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    bot = cache / "mlmeta" / "sandbox" / "mlmeta-bot.jwt"
    assert info["token_file"] == str(cache / "mlmeta" / "sandbox" / "tokens.json")
    assert os.stat(bot).st_mode & 0o777 == 0o600
    # the export line names the file, never the token: the variables mlmeta reads
    assert f"export OPENMETADATA_HOST={info['url']} OPENMETADATA_JWT_TOKEN_FILE={bot}" in out
    assert bot.read_text().strip() not in out + err
    assert err == ""  # no SDK warnings on start


def test_a_token_file_inside_a_git_repository_is_kept_out_of_git(tmp_path):
    from mlmeta.standins.openmetadata.tokens import keep_out_of_git

    (tmp_path / ".git" / "info").mkdir(parents=True)
    target = tmp_path / "dev" / "tokens.json"
    exclude = keep_out_of_git(target)
    assert exclude == tmp_path / ".git" / "info" / "exclude"
    assert exclude.read_text().splitlines()[-2:] == ["/dev/tokens.json", "/dev/*.jwt"]
    keep_out_of_git(target)  # idempotent
    assert exclude.read_text().count("/dev/tokens.json") == 1
    assert keep_out_of_git(tmp_path.parent / "elsewhere" / "tokens.json") is None
