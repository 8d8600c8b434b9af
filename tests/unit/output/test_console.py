"""A closed stdout swallows the rest of the output and says so once."""

from __future__ import annotations

import sys

from mlmeta.output import console


class ClosedPipe:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        pass


def test_a_closed_stdout_swallows_the_rest_and_says_so(monkeypatch):
    monkeypatch.setattr(console, "_closed", set())
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    console.out("first line")  # no exception: the work goes on
    assert console.write_out("an event") is False
