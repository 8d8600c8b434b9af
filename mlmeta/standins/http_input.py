"""Request framing and bodies as mlmeta's two stand-ins read them (the sandbox, and the Kubeflow
Model Registry stand-in in ``mlmeta.standins.kubeflow``): both are ``http.server`` handlers, and
``http.server`` trusts whatever ``Content-Length`` says.

What a request must be before a byte of its body is read (tests/security/test_sandbox_http.py):

- at most one ``Content-Length``, written as decimal digits: a negative one made ``read(-1)``
  wait for the client to close, a non-numeric one raised out of the handler (a traceback on
  stderr and no answer), and two of them leave the body's end up to whoever reads it - 400;
- no ``Transfer-Encoding``: ``http.server`` cannot decode chunked bodies, and one left unread
  would be parsed as the next request on the connection - 501;
- a body within ``MAX_BODY`` - 413, unread.

Each refusal closes the connection, since whatever the client still sends cannot be framed.
A parsed JSON body must not nest deeper than ``MAX_DEPTH``: ``json.loads`` itself stops near
Python's recursion limit with a ``RecursionError``, and what the stand-ins do with a body
afterwards (``copy.deepcopy``, JSON Patch) recurses too. A client that hangs up, before its body
is complete or before the answer is written, is no error of the stand-in's: it is logged at
debug level, never as a traceback on stderr.
"""

from __future__ import annotations

import json
import logging
import re
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

# 16 MiB: an ML model with 10,000 features, each with a description, a source column and a tag,
# is a CreateMlModel body of 4.4 MiB, the largest body a real client sends the sandbox; the
# Kubeflow registry's bodies (models, versions, artifacts) are kilobytes. Beyond that, a body is
# a mistake or an attack, and holding it in memory is what the bound prevents.
MAX_BODY = 16 * 1024 * 1024
# The deepest body a client sends, a CreateMlModel whose features name their source columns, nests
# 6 levels; 100 keeps every recursive step after parsing (``copy.deepcopy`` takes two frames a
# level) far below Python's limit of 1,000.
MAX_DEPTH = 100
_DIGITS = re.compile(r"[0-9]+")
_LONGEST_LENGTH = 18  # digits past this (leading zeros aside) are above any bound, and int() may refuse them

log = logging.getLogger("mlmeta.sandbox.http")


class BodyRefused(Exception):
    """A request refused for its framing or its body: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def declared_length(headers: Message, limit: int = MAX_BODY) -> int:
    """The body's length as the headers declare it (0 without a body), checked as the module says."""
    if headers.get("Transfer-Encoding") is not None:
        raise BodyRefused(501, "Transfer-Encoding is not supported here: send the body with a Content-Length")
    values = headers.get_all("Content-Length") or []
    if not values:
        return 0
    if len(values) > 1:
        raise BodyRefused(400, "more than one Content-Length header")
    text = values[0].strip()
    if not _DIGITS.fullmatch(text):
        raise BodyRefused(400, "Content-Length must be a number of bytes written in decimal digits")
    if len(text.lstrip("0")) > _LONGEST_LENGTH or int(text) > limit:
        raise BodyRefused(413, f"Request entity too large: the limit is {limit} bytes")
    return int(text)


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` with a bound on nesting; invalid JSON raises ``ValueError`` as ``json.loads`` does."""
    too_deep = BodyRefused(400, f"the JSON body nests deeper than {max_depth} levels")
    try:
        value = json.loads(body)
    except RecursionError:
        raise too_deep from None
    if nesting(value) > max_depth:
        raise too_deep
    return value


def nesting(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes; counted without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest


class GuardedHandler(BaseHTTPRequestHandler):
    """A request handler whose clients may hang up at any moment without a traceback on stderr."""

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError) as error:  # the client went away: nothing to answer
            self.close_connection = True
            log.debug("client %s went away: %s", self.client_address[0], error)

    def read_body(self, limit: int = MAX_BODY) -> bytes | None:
        """The request's body after the checks above (``BodyRefused``); None when the client
        hung up before sending all of it (there is no one left to answer)."""
        try:
            length = declared_length(self.headers, limit)
        except BodyRefused:
            self.close_connection = True
            raise
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body
