"""Typed errors and the exit codes they map to - in one place.

Commands return an exit code for the normal outcomes (0 clean, 1 findings or failed models).
Anything that stops a command early is raised as one of the exceptions below; ``cli`` turns it
into a message on stderr and the code here, so no user ever sees a traceback for bad input.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1  # invalid specs, failed models, differences found by --check
    USAGE = 2  # bad command line, configuration, credentials, unreachable or mismatched server
    INTERNAL = 3  # a bug in mlmeta: please report it


class MlmetaError(Exception):
    """Base of every error mlmeta expects; ``str(error)`` is the user-facing message."""

    exit_code: ExitCode = ExitCode.USAGE
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UsageError(MlmetaError):
    """The command line asks for something that cannot be done."""


class ConfigError(MlmetaError):
    """A setting is missing or wrong; the message names the setting and where it came from."""

    def __init__(self, setting: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"{setting}: {problem}", hint=hint)
        self.setting = setting


class ServerError(MlmetaError):
    """A server (OpenMetadata or MLflow) cannot be used at all: unreachable, refused, wrong version."""


class PublishFailure(MlmetaError):
    """One model could not be published; other models go on."""

    exit_code = ExitCode.FINDINGS
