"""Renderers: the same records (diagnostics, results) as text, JSON or GitHub annotations."""

from __future__ import annotations

import enum


class Format(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


def render_validation(report, fmt: Format) -> None:
    from mlmeta.output import github, jsonfmt, text

    {Format.TEXT: text, Format.JSON: jsonfmt, Format.GITHUB: github}[fmt].render_validation(report)


def render_publish(report, fmt: Format) -> None:
    from mlmeta.output import github, jsonfmt, text

    {Format.TEXT: text, Format.JSON: jsonfmt, Format.GITHUB: github}[fmt].render_publish(report)
