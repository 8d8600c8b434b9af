"""Renderers: the same records (diagnostics, results) as text, JSON or GitHub annotations."""

from __future__ import annotations

import enum


class Format(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


def _renderer(fmt: Format):
    from mlmeta.output import github, jsonfmt, text

    return {Format.TEXT: text, Format.JSON: jsonfmt, Format.GITHUB: github}[fmt]


def render_validation(report, fmt: Format) -> None:
    _renderer(fmt).render_validation(report)


def render_publish(report, fmt: Format) -> None:
    _renderer(fmt).render_publish(report)


def render_drift(report, fmt: Format) -> None:
    _renderer(fmt).render_drift(report)


def render_setup(steps, dry_run: bool, fmt: Format) -> None:
    from mlmeta.output import jsonfmt, text

    (jsonfmt if fmt is Format.JSON else text).render_setup(steps, dry_run)
