"""HTTP to the servers mlmeta talks to (OpenMetadata, the model registry): the one place that decides
what a failure means, so that every command fails the same way for the same cause.

Three outcomes of a request, decided here and nowhere else:

- **The server cannot be used at all**: the connection is refused, the host name does not
  resolve, TLS fails (a certificate that cannot be verified, or an ``https://`` URL for a
  server that speaks plain HTTP). Retrying cannot help a command-line run: it stops at once with
  one line naming the setting (``Unreachable``, exit code 2). A refusal after the server has
  answered in this run is a restart, and counts as transient instead.
- **Transient**: 429 (``Retry-After`` honoured), 500/502/503/504, a timeout, a dropped
  connection. Retried with exponential backoff, at most ``Limits.attempts`` times - and never
  past the *outage deadline*: when no request to the server has succeeded for
  ``Limits.deadline`` seconds, every request to it stops with ``ServerDown`` (exit code 2). So a
  server that accepts connections but never answers costs about one deadline in all, however
  many specs are waiting, while one unlucky request among many good ones just fails its spec.
- **An answer**: any other status comes back to the caller as an ``Answer``; adapters decide
  what a 404 or 409 means for them.

Retries are logged at debug level only (``-v`` shows them); nothing here prints.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from mlmeta.errors import ConfigError, ServerError

log = logging.getLogger("mlmeta.http")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 2.0  # seconds between two attempts, before Retry-After
MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True)
class Limits:
    """How long mlmeta waits for a server: per request, and in all while it does not answer."""

    timeout: float = 30.0  # one request (connect and read)
    deadline: float = 60.0  # retrying a server that does not answer, across the whole command
    attempts: int = 8  # at a 30 % failure rate a request still fails only 0.007 % of the time


class Unreachable(ServerError):
    """Connection refused, unknown host, TLS failure: nothing to retry in a command-line run."""


class ServerDown(ServerError):
    """The server has not answered successfully for the whole outage deadline."""


class HttpFailure(Exception):
    """One request kept failing transiently (while the server answers other requests)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Answer:
    """A response the caller has to interpret (2xx, or a 4xx other than 429)."""

    status: int
    headers: dict[str, str]
    text: str
    attempts: int = 1  # > 1: an earlier attempt may have reached the server (and done its work)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (an HTML page, a proxy's text)."""
        try:
            return json.loads(self.text) if self.text else None
        except ValueError:
            return None

    def looks_like_html(self) -> bool:
        return "html" in self.headers.get("Content-Type", "").lower() or self.text.lstrip()[:15].lower().startswith(
            ("<!doctype html", "<html"))

    def message(self) -> str:
        """The server's own words for an error: its JSON ``message``, else the start of the body."""
        body = self.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
        return f"HTTP {self.status}" + (f": {self.text.strip()[:200]}" if self.text.strip() and not
                                        self.looks_like_html() else "")


@dataclass
class _Outage:
    """Shared by every thread talking to one server: when did it stop answering, and why."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    since: float | None = None
    cause: str = ""
    answered: bool = False  # the server has answered at least once in this run


class HttpClient:
    """Requests to one server's base URL; thread-safe (a session per thread, one shared outage)."""

    def __init__(self, base_url: str, *, server: str, setting: str, limits: Limits | None = None,
                 headers: dict[str, str] | None = None, verify: bool | str = True,
                 auth: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.server = server  # "OpenMetadata", "MLflow": how messages name it
        self.setting = setting  # where its URL came from, e.g. OPENMETADATA_HOST
        self.limits = limits or Limits()
        self.headers = dict(headers or {})
        self.verify = verify
        self.auth = auth
        self.requests = 0  # attempts sent, retries included
        self._outage = _Outage()
        self._local = threading.local()
        self._count_lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # no retries below us: this class decides, and urllib3's own would log warnings
            for scheme in ("http://", "https://"):
                session.mount(scheme, HTTPAdapter(max_retries=0, pool_maxsize=4))
            session.headers.update(self.headers)
            session.verify = self.verify
            session.auth = self.auth
            session.trust_env = True  # proxies and REQUESTS_CA_BUNDLE from the environment, as users expect
            self._local.session = session
        return session

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json_body: Any = None,
                data: str | bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        """Send until there is an answer to interpret; raise when there cannot be one."""
        url = self.url(path)
        attempt = 0
        while True:
            attempt += 1
            self._check_outage()
            started = time.monotonic()
            with self._count_lock:
                self.requests += 1
            retry_after, status = None, 0
            try:
                response = self._session().request(method, url, params=params, json=json_body, data=data,
                                                   headers=headers, timeout=self._timeout(),
                                                   allow_redirects=False)
            except requests.exceptions.RequestException as error:
                cause = self._transport_cause(error, url)  # raises Unreachable when retrying cannot help
            else:
                answer = _answer(response, attempt)
                if response.status_code not in TRANSIENT_STATUSES:
                    self._succeeded()
                    return answer
                status, retry_after = response.status_code, response.headers.get("Retry-After")
                cause = f"HTTP {status}" + (f" ({answer.message()})" if answer.json() else "")
            self._failed(started, cause)
            self._check_outage()
            if attempt >= self.limits.attempts:
                raise HttpFailure(f"{self.server} kept failing: {cause} ({attempt} attempts)", status)
            self._pause(attempt, retry_after, f"{method} {url}: {cause}")

    # --- timing -----------------------------------------------------------------------------------

    def _timeout(self) -> tuple[float, float]:
        """Per request, but never beyond the outage deadline once the server stopped answering."""
        timeout = self.limits.timeout
        with self._outage.lock:
            if self._outage.since is not None:
                remaining = self.limits.deadline - (time.monotonic() - self._outage.since)
                timeout = max(0.5, min(timeout, remaining))
        return (min(timeout, 10.0), timeout)

    def _check_outage(self) -> None:
        with self._outage.lock:
            since, cause = self._outage.since, self._outage.cause
        if since is not None and time.monotonic() - since >= self.limits.deadline:
            raise ServerDown(f"{self.server} at {self.base_url} did not answer for {self.limits.deadline:g} s: {cause}",
                             hint=f"check that the server is up and {self.setting} points at it; the wait is "
                                  "set by 'deadline' (MLMETA_DEADLINE) and 'timeout' (MLMETA_TIMEOUT)")

    def _failed(self, started: float, cause: str) -> None:
        with self._outage.lock:
            if self._outage.since is None:
                self._outage.since = started
            self._outage.cause = cause

    def _succeeded(self) -> None:
        with self._outage.lock:
            self._outage.since, self._outage.answered = None, True

    def _pause(self, attempt: int, retry_after: str | None, what: str) -> None:
        # retry jitter, not a secret (B311)
        wait = min(MAX_BACKOFF, 0.1 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)  # nosec B311
        if retry_after:
            try:
                wait = min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass
        with self._outage.lock:
            if self._outage.since is not None:  # never sleep past the deadline
                wait = min(wait, max(0.0, self.limits.deadline - (time.monotonic() - self._outage.since)))
        log.debug("retrying in %.2f s after attempt %d: %s", wait, attempt, what)
        time.sleep(wait)

    # --- what a transport error means ---------------------------------------------------------------

    def _transport_cause(self, error: requests.exceptions.RequestException, url: str) -> str:
        """A short cause for a transient error; raises Unreachable for the ones retrying cannot fix."""
        chain = _chain(error)
        text = " ".join(str(e) for e in chain)
        host = urlsplit(url).hostname or url
        if isinstance(error, requests.exceptions.SSLError):
            raise self._tls_problem(text)
        if isinstance(error, requests.exceptions.Timeout):
            kind = "connect" if isinstance(error, requests.exceptions.ConnectTimeout) else "read"
            return (f"no answer within {self.limits.timeout:g} s ({kind} timeout)" if kind == "read"
                    else f"could not connect within {min(self.limits.timeout, 10.0):g} s")
        if _name_resolution_failed(chain):
            raise Unreachable(f"cannot resolve the host name {host!r} of {self.server} ({self.base_url})",
                              hint=f"check {self.setting}")
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
            if not self._outage.answered:
                raise Unreachable(f"{self.server} refused the connection at {self.base_url}",
                                  hint=f"is the server running? check {self.setting}")
            return "connection refused (the server may be restarting)"
        return f"connection lost ({_short(chain[-1])})"

    def _tls_problem(self, text: str) -> Unreachable:
        lowered = text.lower()
        if "wrong_version_number" in lowered or "wrong version number" in lowered or "record layer failure" in lowered:
            return Unreachable(f"{self.server} at {self.base_url} does not speak TLS: the server answers plain HTTP",
                               hint=f"use an http:// URL in {self.setting}, or put TLS in front of the server")
        if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
            return Unreachable(f"cannot verify the TLS certificate of {self.server} at {self.base_url}",
                               hint=_CA_HINTS.get(self.server, f"give {self.server}'s CA certificate to mlmeta"))
        return Unreachable(f"TLS handshake with {self.server} at {self.base_url} failed: {_short_text(text)}",
                           hint=f"check {self.setting}")


_CA_HINTS = {
    "OpenMetadata": "set OPENMETADATA_CA_BUNDLE (or ca_bundle) to your CA's certificate file",
    "MLflow": "set MLFLOW_TRACKING_SERVER_CERT_PATH to your CA's certificate file",
}


def _answer(response: requests.Response, attempts: int) -> Answer:
    return Answer(response.status_code, dict(response.headers), response.text, attempts)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what caused it (urllib3 keeps the root cause in ``reason``)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "reason", None) if isinstance(getattr(current, "reason", None), BaseException) \
            else (current.__cause__ or current.__context__ or
                  next((a for a in getattr(current, "args", ()) if isinstance(a, BaseException)), None))
    return seen


def _name_resolution_failed(chain: list[BaseException]) -> bool:
    import socket

    return any(isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError" for e in chain)


def _short(error: BaseException) -> str:
    return _short_text(f"{type(error).__name__}: {error}")


def _short_text(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return first if len(first) <= 160 else first[:157] + "..."


def check_http_url(url: str, setting: str, *, what: str) -> str:
    """An http(s) URL, or a ConfigError naming the setting."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(setting, f"expected the http(s) URL of {what}, such as http://host:5000, got {url!r}")
    return url.strip()
