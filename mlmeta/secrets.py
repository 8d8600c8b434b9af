"""Keep secrets out of everything mlmeta shows or keeps: one redaction path for every output.

Every line mlmeta writes - text, JSON, GitHub annotations and summaries, logs, ``/health``,
``/metrics``, events, state files, exception messages - passes ``redact``, which masks:

- every secret registered here the moment mlmeta read it (tokens, webhook secrets, passwords),
  in the forms it can travel in: as is, base64 (standard and URL-safe, padded or not, as Basic
  auth sends ``user:password``), percent-encoded and JSON-escaped;
- credentials in any URL: the user information (``https://user:password@host``, or a token as
  the user) and the values of query parameters that carry one (``?token=``, ``&sig=``, ...);
- ``Authorization`` values and ``Bearer`` / ``Basic`` credentials written out in text.

So a token cannot reach an output even when it sneaks into a library's exception message. URLs
that name where events go (sinks) are shown only as ``label``: scheme, host and port.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_LENGTH = 8  # masking shorter strings would garble ordinary text
_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []  # longest first, so a secret containing another is masked whole

_URL_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@'\"<>]+@")
# words that mark a query parameter carrying a credential
_CREDENTIAL_WORDS = (r"token|secret|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|signature|sig|credential|"
                     r"auth|session|code")
_SECRET_KEY = re.compile(rf"(?i)[\w.-]*(?:{_CREDENTIAL_WORDS})[\w.-]*")
_QUERY_SECRET = re.compile(rf"(?i)([?&;][\w.-]*(?:{_CREDENTIAL_WORDS})[\w.-]*=)[^&#\s'\"<>]+")
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token)\s+)?)"
                            r"[^\s\"',;]+")
_CREDENTIAL = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{16,}|(\bbasic\s+)[A-Za-z0-9+/]{12,}={0,2}")


def register(secret: str | None) -> None:
    """Mask ``secret`` from now on, in every form it travels in."""
    if not secret or len(secret) < MIN_LENGTH:
        return
    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), json.dumps(secret, ensure_ascii=False)[1:-1]}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode()
        forms |= {text, text.rstrip("=")}
    with _lock:
        _secrets.update(f for f in forms if len(f) >= MIN_LENGTH)
        _ordered[:] = sorted(_secrets, key=len, reverse=True)


def register_basic_auth(user: str, password: str) -> None:
    """Basic auth sends base64(user:password): neither half alone is found in it."""
    register(password)
    register(f"{user}:{password}")


def register_url(url: str | None) -> None:
    """The credentials a URL carries (user information, token-like query values)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register_basic_auth(unquote(parts.username or ""), unquote(parts.password))
    elif parts.username:
        register(unquote(parts.username))  # https://TOKEN@host
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if value and _SECRET_KEY.fullmatch(key):
            register(unquote(value))


def redact(text: str) -> str:
    """``text`` with every secret, URL credential and Authorization value masked."""
    with _lock:
        secrets = list(_ordered)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_USERINFO.sub(rf"\g<1>{MASK}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTHORIZATION.sub(rf"\g<1>{MASK}", text)
    return _CREDENTIAL.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)


def redact_data(value: Any) -> Any:
    """``redact`` applied to every string inside a JSON-like value (an event, a report)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(item) for item in value]
    return value


def label(url: str) -> str:
    """A URL fit to show: scheme, host and port - no credentials, path or query, which may hold one
    (a Slack-style hook keeps its secret in its path)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL that cannot be parsed)"
    if parts.scheme == "kafka":  # a topic name holds no secret, and tells the sinks apart
        return f"kafka://{host}{port}{parts.path}"
    more = "/..." if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{more}"
