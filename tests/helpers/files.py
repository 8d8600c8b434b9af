"""The repository's root, a file writer, and the smallest valid spec: what most test modules start from."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD_SPEC = """\
mlmeta: 1
name: churn
features:
  - name: tenure
    type: numerical
    sources:
      - column: svc.db.public.users.tenure
service: ml_models
"""
