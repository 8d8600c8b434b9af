"""``mlmeta webhook serve`` as a whole process, for the receiver's attack tests: started, measured
from /proc (resident memory, its peak, CPU time), signed deliveries sent to it, stopped - its stderr
kept in a file the test reads."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from mlmeta.triggers.webhook import signature
from tests.helpers.files import REPO
from tests.helpers.webhooks import SECRET, wait_for


class ReceiverProcess:
    started: list[ReceiverProcess] = []  # killed after each test, whatever happened in it

    def __init__(self, folder: Path, *args: str, log_format: str = "text", fd_limit: int | None = None,
                 wait: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.state = folder / "state"
        self.ready = folder / "ready.json"
        self.log = folder / f"receiver-{uuid.uuid4().hex[:6]}.log"
        command = [sys.executable, "-m", "mlmeta", "webhook", "serve", "--port", "0", "--state-dir", str(self.state),
                   "--ready-file", str(self.ready), "--log-format", log_format, *args]
        if fd_limit is not None:  # a machine's usual soft limit on open files
            command = ["bash", "-c", f'ulimit -Sn {fd_limit} && exec "$@"', "bash", *command]
        env = {**os.environ, "MLMETA_WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
        self.ready.unlink(missing_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                            env=env, cwd=os.getcwd())
        ReceiverProcess.started.append(self)
        self.url = self.listening() if wait else None

    def listening(self) -> str:
        def written() -> str | None:
            try:
                return json.loads(self.ready.read_text())["url"]
            except (OSError, ValueError):
                return None

        wait_for(lambda: written() is not None or self.process.poll() is not None, 60)
        assert self.process.poll() is None, self.stderr()
        return written()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.split("//")[1].split("/")[0].rsplit(":", 1)
        return host, int(port)

    def health(self) -> requests.Response:
        return requests.get(self.url.rstrip("/") + "/health", timeout=10)

    def reconciled(self, seconds: float = 60) -> None:
        wait_for(lambda: self.health().json().get("reconciled"), seconds)

    def deliver(self, payload: dict | bytes, *, delivery_id: str | None = None, timestamp: str | None = None
                ) -> requests.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        delivery_id = delivery_id or uuid.uuid4().hex
        stamp = timestamp or str(int(time.time()))
        return requests.post(self.url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": signature(SECRET, delivery_id, stamp, body)})

    def connect(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=10)

    # --- what /proc says ------------------------------------------------------------------------

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB
        raise AssertionError(f"no {field} in /proc/{self.pid}/status")

    def resident(self) -> int:
        """Bytes resident now (VmRSS)."""
        return self._status("VmRSS")

    def reset_peak(self) -> None:
        """Reset the peak resident size to the current one (Linux: ``5`` to clear_refs)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def peak(self) -> int:
        """The highest resident size since ``reset_peak`` (VmHWM)."""
        return self._status("VmHWM")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    # --- stopping -------------------------------------------------------------------------------

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(autouse=True)
def no_receiver_left():
    """Import it into a test module: every receiver a test started is gone after it, even one a
    failed assertion left running (or one that hung, as the old signal handler could)."""
    yield
    while ReceiverProcess.started:
        process = ReceiverProcess.started.pop().process
        if process.poll() is None:
            process.kill()
            process.wait()
