"""Local services for the demo, the tests and the benchmarks: a real MLflow tracking server and
the OpenMetadata sandbox, each in its own process group, stopped with what they started.

Running an MLflow *server* needs the full ``mlflow`` package (a development extra); mlmeta
itself only talks to it through ``mlflow-skinny``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Process:
    name = "process"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.log = workdir / f"{self.name}.log"

    def _spawn(self, args: list[str], env: dict[str, str] | None = None) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env={**os.environ, **(env or {})}, start_new_session=True)

    def _wait(self, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class MlflowServer(_Process):
    """``mlflow server`` on 127.0.0.1 with a sqlite store under ``workdir``, kept small: one worker
    and no job consumers (they would take a gigabyte)."""

    name = "mlflow"

    def __init__(self, workdir: Path, port: int | None = None, workers: int = 1) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> MlflowServer:
        self._spawn([sys.executable, "-m", "mlflow", "server",
                     "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
                     "--artifacts-destination", str(self.workdir / "artifacts"),
                     "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
                    env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        self._wait(self._healthy, timeout)
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                return answer.read().strip() == b"OK"
        except OSError:
            return False


class SandboxProcess(_Process):
    """``mlmeta sandbox`` in a subprocess, with its tokens in ``workdir/tokens.json``."""

    name = "sandbox"

    def __init__(self, workdir: Path, port: int = 0, extra_args: list[str] | None = None) -> None:
        super().__init__(workdir)
        self.port = port
        self.extra_args = extra_args or []
        self.ready_file = workdir / "sandbox-ready.json"
        self.token_file = workdir / "tokens.json"
        self.api_url = ""

    def start(self, timeout: float = 90) -> SandboxProcess:
        self.ready_file.unlink(missing_ok=True)
        self._spawn([sys.executable, "-m", "mlmeta", "sandbox", "--port", str(self.port), "--ready-file",
                     str(self.ready_file), "--token-file", str(self.token_file), *self.extra_args])
        self._wait(self.ready_file.exists, timeout)
        self.api_url = json.loads(self.ready_file.read_text())["api_url"]
        return self

    def token(self, user: str = "mlmeta-bot") -> str:
        return json.loads(self.token_file.read_text())[user]

    @property
    def bot_token_file(self) -> Path:
        """mlmeta-bot's token alone: what OPENMETADATA_JWT_TOKEN_FILE takes."""
        return self.token_file.parent / "mlmeta-bot.jwt"

    @property
    def url(self) -> str:
        return self.api_url.rsplit("/api", 1)[0]

    def stats(self, reset: bool = False) -> dict:
        """The request counters (``reset``: read them, then start again from zero)."""
        with urllib.request.urlopen(f"{self.url}/_sandbox/stats", timeout=10) as answer:
            counters = json.load(answer)
        if reset:
            urllib.request.urlopen(urllib.request.Request(f"{self.url}/_sandbox/stats", method="DELETE"),
                                   timeout=10).close()
        return counters
