"""A watcher the tests drive in-process, and the events it wrote."""

from __future__ import annotations

import json

from mlmeta.config import load_settings
from mlmeta.events.sinks import Emitter, JsonLinesSink
from mlmeta.triggers.watch import Watcher, WatchOptions


def watcher(tmp_path, **options) -> tuple[Watcher, list[str]]:
    events_file = tmp_path / "events.jsonl"
    lines: list[str] = []
    watch = Watcher(load_settings(), WatchOptions(checkpoint=tmp_path / "state" / "checkpoint.json", once=True,
                                                  **options),
                    Emitter([JsonLinesSink(str(events_file))], tmp_path / "state" / "spool.jsonl"), lines.append)
    return watch, lines


def events(tmp_path) -> list[dict]:
    path = tmp_path / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
