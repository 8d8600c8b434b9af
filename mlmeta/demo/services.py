"""Local services for the demo, the tests and the benchmarks: a real MLflow tracking server, the
OpenMetadata sandbox and Apache Kafka's broker, each in its own process group, stopped with what
they started.

Running an MLflow *server* needs the full ``mlflow`` package (a development extra); mlmeta
itself only talks to it through ``mlflow-skinny``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
# the services are this machine's own processes: MLflow, the sandbox, Kafka (B404)
import subprocess  # nosec B404
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
            environment = {**os.environ, **(env or {})}
            # argv built by this module for a server it starts; no shell (B603)
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,  # nosec B603
                                            stdin=subprocess.DEVNULL, env=environment, start_new_session=True)

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

    def __init__(self, workdir: Path, port: int | None = None, workers: int = 1,
                 local_webhooks: bool = False) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.workers = workers
        self.local_webhooks = local_webhooks  # deliver webhooks to http:// and private addresses (tests)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> MlflowServer:
        self._spawn([sys.executable, "-m", "mlflow", "server",
                     "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
                     "--artifacts-destination", str(self.workdir / "artifacts"),
                     "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
                    env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                         # MLflow caches each event's webhooks for 60 s: a webhook registered meanwhile
                         # would miss deliveries, so tests keep that cache to a second
                         **({"MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
                             "MLFLOW_WEBHOOK_CACHE_TTL": "1"} if self.local_webhooks else {})})
        self._wait(self._healthy, timeout)
        return self

    def _healthy(self) -> bool:
        try:
            # http:// of a server this module started (B310)
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:  # nosec B310
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
        """The request counters (``reset``: read them, then start again from zero); the sandbox's
        control routes take the admin token it wrote."""
        headers = {"Authorization": f"Bearer {self.token('admin')}"}
        stats = f"{self.url}/_sandbox/stats"
        # http:// of the sandbox this module started (B310)
        with urllib.request.urlopen(urllib.request.Request(stats, headers=headers), timeout=10) as answer:  # nosec B310
            counters = json.load(answer)
        if reset:
            # the same sandbox (B310)
            urllib.request.urlopen(urllib.request.Request(stats, method="DELETE", headers=headers),  # nosec B310
                                   timeout=10).close()
        return counters


class KafkaBroker(_Process):
    """Apache Kafka's own broker (KRaft: broker and controller in one process, no ZooKeeper) on
    127.0.0.1, from Maven Central. The jars are fetched once with Maven into a cache folder
    (``MLMETA_CACHE``, default ``~/.cache/mlmeta``) and reused by later runs; each broker gets a
    fresh log folder under ``workdir`` and free ports."""

    name = "kafka"
    VERSION = "4.1.1"  # runs on Java 17, the machine's default
    POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mlmeta</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"

    @classmethod
    def libraries(cls) -> Path:
        """The broker's jars, fetched with Maven the first time (about 20 s, 43 MB)."""
        pom = cls.POM.format(version=cls.VERSION)
        digest = hashlib.sha256(pom.encode()).hexdigest()[:8]  # a changed dependency list is fetched anew
        cache = Path(os.environ.get("MLMETA_CACHE") or Path.home() / ".cache" / "mlmeta") / f"kafka-{cls.VERSION}-{digest}"
        libs = cache / "libs"
        if (cache / ".complete").exists():
            return libs
        cache.mkdir(parents=True, exist_ok=True)
        # test workers start brokers at once: one fetches while the others wait (Maven's local
        # repository and the libs folder are not safe for two writers)
        with open(cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (cache / ".complete").exists():
                cls._fetch(cache, pom)
        return libs

    @classmethod
    def _fetch(cls, cache: Path, pom: str) -> None:
        libs = cache / "libs"
        (cache / "pom.xml").write_text(pom, encoding="utf-8")
        maven = shutil.which("mvn")
        if maven is None:
            raise RuntimeError("Maven (mvn) is needed to fetch Apache Kafka's jars from Maven Central")
        command = [maven, "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={libs}"]
        # Maven, found on PATH, with a fixed argv (B603)
        done = subprocess.run(command, cwd=cache, capture_output=True, text=True, timeout=600)  # nosec B603
        if done.returncode:
            raise RuntimeError(f"fetching Apache Kafka {cls.VERSION} with Maven failed: {done.stdout[-1500:]}")
        (cache / ".complete").touch()

    def start(self, timeout: float = 120) -> KafkaBroker:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("a Java runtime (17 or newer) is needed to run Apache Kafka")
        classpath = f"{self.libraries()}/*"
        logs = self.workdir / "data"
        config = self.workdir / "server.properties"
        config.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}", "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT", f"log.dirs={logs}",
            "num.partitions=3", "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=true",
            # one partition each for the group offsets and transaction logs: fifty (the default) take the
            # broker seconds to create on a small machine, at the first consumer group and transaction
            "offsets.topic.num.partitions=1", "transaction.state.log.num.partitions=1",
        ]) + "\n", encoding="utf-8")
        command = [java, "-Xmx256m", "-cp", classpath, "kafka.tools.StorageTool", "format", "--standalone",
                   "-t", "mlmeta-test-cluster-01", "-c", str(config)]
        # the JDK's java with Kafka's own storage tool, a fixed argv (B603)
        formatted = subprocess.run(command, capture_output=True, text=True, timeout=120)  # nosec B603
        if formatted.returncode:
            raise RuntimeError(f"formatting Kafka's storage failed: {formatted.stderr[-1500:]}")
        self._launch(java, classpath, config, timeout)
        return self

    def restart(self, timeout: float = 120) -> KafkaBroker:
        """The same broker again, on the same ports, with the topics and messages it had (``stop``
        first): what a broker coming back after an outage looks like to its clients."""
        self.stop()
        self._launch(shutil.which("java"), f"{self.libraries()}/*", self.workdir / "server.properties", timeout)
        return self

    def _launch(self, java: str, classpath: str, config: Path, timeout: float) -> None:
        started_at = self.log.stat().st_size if self.log.exists() else 0  # the log is appended to
        self._spawn([java, "-Xmx512m", "-Xms128m", "-cp", classpath, "kafka.Kafka", str(config)],
                    env={"KAFKA_HEAP_OPTS": "-Xmx512m"})
        self._wait(lambda: self._listening(started_at), timeout)

    def _listening(self, log_from: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        with self.log.open("rb") as log:
            log.seek(log_from)
            return b"Kafka Server started" in log.read()
