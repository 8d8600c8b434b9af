"""No secret in any output or file: every command, every output format, every secret set, the
servers failing in each way - refused, answering 500, refusing the credentials, a web page, a
server that echoes the request it got (credentials included) - and the forms a secret travels in
(as is, base64, Basic auth's base64 of user:password, percent-encoded, in URLs).

Each command runs as its own process, so a secret registered late in one cannot be masked by
another's registration.
"""

from __future__ import annotations

import base64
import itertools
import os
import secrets as random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import pytest

from mlmeta.demo.peers import echoing_server, web_server
from tests.helpers.files import GOOD_SPEC, write

COMMANDS = [
    ["validate", "--online"], ["plan"], ["publish", "--all", "--emit-events"], ["drift"], ["setup"],
    ["pull", "--dry-run"], ["watch", "--once"], ["init", "--from-registry", "churn"], ["doctor"],
    ["doctor", "--write-test"],
    ["card", "model_specs/churn.yaml"],
]
FORMATS = ["text", "json", "github"]


def _secret(kind: str) -> str:
    return f"{kind}-{random.token_hex(12)}"


SECRETS = {name: _secret(name) for name in ("omjwt", "mlpassword", "mlquery", "mltoken", "kftoken", "webhook",
                                            "github", "sinkpassword", "sinkpath", "sinkquery")}


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    return {secret, quote(secret, safe=""), base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


FORBIDDEN = set().union(*(_forms(s) for s in SECRETS.values()),
                        {base64.b64encode(f"alice:{SECRETS['mlpassword']}".encode()).decode().rstrip("=")},
                        {base64.b64encode(f"bob:{SECRETS['sinkpassword']}".encode()).decode().rstrip("=")})


@pytest.fixture(scope="module")
def failing_servers():
    """The ways a server can fail, each as a base URL (a closed port first)."""
    with ExitStack() as stack:
        yield {"refused": "http://127.0.0.1:9",
               "500, echoing": stack.enter_context(echoing_server(500)),
               "401, echoing": stack.enter_context(echoing_server(401)),
               "403, echoing a page": stack.enter_context(echoing_server(403, "text/html")),
               "a web site": stack.enter_context(web_server(200, b"<html>welcome</html>"))}


def _environment(base: str, folder: Path) -> dict[str, str]:
    host = base.split("://", 1)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "OPENMETADATA_", "MODEL_REGISTRY_",
                                                                     "GITHUB_", "MLMETA_"))}
    env.update({
        "OPENMETADATA_HOST": base, "OPENMETADATA_JWT_TOKEN": SECRETS["omjwt"],
        "MLFLOW_TRACKING_URI": f"http://alice:{SECRETS['mlpassword']}@{host}/?token={SECRETS['mlquery']}",
        "MLFLOW_TRACKING_TOKEN": SECRETS["mltoken"], "MODEL_REGISTRY_TOKEN": SECRETS["kftoken"],
        "MLMETA_WEBHOOK_SECRET": SECRETS["webhook"], "GITHUB_TOKEN": SECRETS["github"],
        "MLMETA_EVENT_SINKS": f"http://bob:{SECRETS['sinkpassword']}@{host}/hook/{SECRETS['sinkpath']}"
                              f"?access_token={SECRETS['sinkquery']}",
        "GITHUB_STEP_SUMMARY": str(folder / "summary.md"), "GITHUB_OUTPUT": str(folder / "github-output.txt"),
        "MLMETA_TIMEOUT": "2", "MLMETA_DEADLINE": "3",
    })
    return env


def _run(command: list[str], fmt: str, base: str, folder: Path) -> tuple[str, int, str]:
    folder.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    write(folder / "model_specs" / "churn.yaml", GOOD_SPEC)
    result = subprocess.run([sys.executable, "-m", "mlmeta", *command, "--format", fmt], cwd=folder,
                            env=_environment(base, folder), capture_output=True, text=True, timeout=120)
    written = "".join(path.read_text(errors="replace") for path in folder.rglob("*")
                      if path.is_file() and ".git" not in path.parts)
    return f"{' '.join(command)} --format {fmt}", result.returncode, result.stdout + result.stderr + written
def test_no_command_shows_or_keeps_a_secret_whatever_the_servers_do(failing_servers, tmp_path):
    formats = itertools.cycle(FORMATS)
    runs = [(command, next(formats), base, tmp_path / f"{mode.replace(' ', '_')}-{index}")
            for mode, base in failing_servers.items() for index, command in enumerate(COMMANDS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda run: _run(*run), runs))
    leaks = [(what, form) for what, _, seen in results for form in FORBIDDEN if form in seen]
    assert not leaks, leaks
    tracebacks = [what for what, _, seen in results if "Traceback" in seen]
    assert not tracebacks, tracebacks
    bugs = [(what, code) for what, code, _ in results if code == 3]
    assert not bugs, bugs
