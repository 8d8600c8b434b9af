"""Keep secrets out of everything mlmeta prints.

Any token mlmeta reads is registered here the moment it is read; the console writers pass every
line through ``redact``, so a token cannot reach stdout, stderr or a GitHub summary even when it
sneaks into an exception message from a library.
"""

from __future__ import annotations

import threading

MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()


def register(secret: str | None) -> None:
    if secret and len(secret) >= 8:  # masking short strings would garble ordinary text
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
