"""``mlmeta pull``'s splicing, without a server: a value written where it was, a text of several lines as a
block, a block kept with its header and blank lines."""

from __future__ import annotations

from mlmeta.commands.pull import edited


def test_a_value_is_spliced_in_where_it_was_written():
    text = "a: Old.   # why\nb: [ x ]\nc:\n    d: {description: 'q'}\n"
    assert edited(text, [(("a",), "Newer.")]) == "a: Newer. # why\nb: [ x ]\nc:\n    d: {description: 'q'}\n"
    assert edited(text, [(("c", "d", "description"), "it's, new")]) == \
        "a: Old.   # why\nb: [ x ]\nc:\n    d: {description: 'it''s, new'}\n"


def test_a_text_of_several_lines_becomes_a_block_at_the_files_indentation():
    text = "a: Old.  # why\nc:\n    d: x\n"
    assert edited(text, [(("a",), "One.\n\nTwo.")]) == "a: | # why\n    One.\n\n    Two.\nc:\n    d: x\n"
    assert edited(text, [(("c", "d"), "One.\nTwo.")]) == "a: Old.  # why\nc:\n    d: |\n        One.\n        Two.\n"


def test_a_block_stays_a_block_with_its_header_and_the_blank_lines_after_it():
    text = "a: |-  # note\n   old\n   text\n\nb: 1\n"
    assert edited(text, [(("a",), "new")]) == "a: |-  # note\n   new\n\nb: 1\n"
    flow = 'f: [{description: "x"}]\n'
    assert edited(flow, [(("f", 0, "description"), "two\nlines")]) == 'f: [{description: "two\\nlines"}]\n'
