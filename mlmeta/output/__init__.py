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
