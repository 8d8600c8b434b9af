"""The generated documentation's cells: a pipe is escaped outside code and an entity inside (no build, no browser)."""

from __future__ import annotations


def test_a_pipe_in_a_generated_cell_is_escaped_outside_code_and_an_entity_inside():
    from mlmeta.tooling.docs_site import _cell

    assert _cell("keep | or `drop|mark` and `plain`") == "keep \\| or <code>drop&#124;mark</code> and `plain`"
