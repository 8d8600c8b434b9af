"""The soak benchmark's arithmetic and reading, without its servers: what it reports as flat, its
percentiles, the events it reads from a file still being written, and the runs it refuses."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from tests.helpers.files import REPO

BENCH = REPO / "bench" / "bench_soak.py"
spec = importlib.util.spec_from_file_location("bench_soak", BENCH)
soak = importlib.util.module_from_spec(spec)
sys.modules["bench_soak"] = soak  # its dataclasses look their module up by name
spec.loader.exec_module(soak)


def samples(rss: list[float], warm_up: int = 0) -> list:
    """One sample per value; the first ``warm_up`` of them taken before any promotion was done."""
    return [soak.Sample(float(i), mb, 5, 2, 0 if i < warm_up else i) for i, mb in enumerate(rss)]


def test_percentiles_are_nearest_rank():
    ordered = [float(i) for i in range(1, 101)]
    assert [soak.percentile(ordered, p) for p in (0.5, 0.9, 0.99)] == [50.0, 90.0, 99.0]
    assert soak.percentile([3.0], 0.99) == 3.0


def test_memory_growing_past_ten_percent_after_warm_up_is_not_flat():
    growing = soak.memory_after_warm_up(samples([100 + i for i in range(20)]), warm_up=0)
    assert not growing["flat"] and growing["drift_pct"] > 10


def test_the_warm_up_is_left_out_of_flatness():
    rising_then_flat = samples([40, 60, 80] + [100, 101, 100, 102] * 4, warm_up=3)
    memory = soak.memory_after_warm_up(rising_then_flat, warm_up=3)
    assert memory["flat"] and memory["min_mb"] == 100 and memory["samples"] == 16


def test_events_are_read_as_they_are_appended_even_mid_line(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = soak.EventTail(path)
    assert tail.new() == []
    first, second = (json.dumps({"subject": s}) for s in ("soak_0001/2", "soak_0002/1"))
    path.write_text(first + "\n" + second[:10])
    assert tail.new() == [("soak_0001", "2")]
    with path.open("a") as handle:
        handle.write(second[10:] + "\n")
    assert tail.new() == [("soak_0002", "1")]


@pytest.mark.parametrize("args", [["--modes", "cron"], ["--in-flight", "300"], ["--warm-up", "1"],
                                  ["--promotions", "0"]])
def test_runs_that_cannot_be_measured_are_refused(args):
    with pytest.raises(SystemExit):
        soak.parse_options(args)


def test_short_runs_take_both_modes_by_default():
    options = soak.parse_options(["--promotions", "100", "--models", "20", "--in-flight", "5"])
    assert options.modes == ["watch", "webhook"] and options.promotions == 100


def test_the_results_file_keeps_a_thinned_timeline_one_sample_a_line():
    rows = [[float(i), 60.0, 5, 2, i] for i in range(1001)]
    text = soak.results_text({"machine": "m", "options": {}, "modes": {"watch": {"promotions": 1000, "samples": rows}}})
    timeline = json.loads(text)["modes"]["watch"]["timeline"]
    assert len(timeline["rows"]) <= soak.TIMELINE_ROWS + 1 and timeline["rows"][-1] == rows[-1]
    assert "[1000.0, 60.0, 5, 2, 1000]" in text
