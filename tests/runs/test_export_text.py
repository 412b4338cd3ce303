"""The Run Command .txt export holds the output as the screen shows it: no escape sequence survives."""

from opstui.runs.grouping import NodeResult, OutputGroup
from opstui.runs.tracker import render_groups_text
from opstui.safe import ansi_text

HOSTILE = ("before\x1b]0;pwned title\x07 \x1b]52;c;ZWNobyBwd25lZA==\x07clip\x1b[2J\x1b[H cleared "
           "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \u202eevil\u202c\x9b\x00\r\n"
           "second line\r\n")


def test_the_text_export_drops_escape_sequences_as_the_screen_does():
    member = NodeResult("r/i-1", "web-\x1b]0;x\x0701", "Success", 0, HOSTILE, "d", "")
    text = render_groups_text([OutputGroup((member,), HOSTILE, 0, "Success")], visible_controls=True)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text
    assert "pwned title" not in text and "ZWNobyBwd25lZA" not in text  # OSC title and OSC 52 payload gone
    lines = text.split("\n")
    assert lines[1] == ansi_text(HOSTILE.split("\r\n")[0]).plain  # the screen's line, colours aside
    assert lines[1].startswith("before clip cleared red link ") and lines[2] == "second line"
    assert lines[0].startswith("=== web-␛]0;x␇01 (1 node")  # a name is shown literally, as in the tables


def test_to_a_pipe_the_bytes_are_kept():
    member = NodeResult("r/i-1", "web-01", "Success", 0, HOSTILE, "d", "")
    text = render_groups_text([OutputGroup((member,), HOSTILE, 0, "Success")])
    assert "\x1b]0;pwned title\x07" in text
