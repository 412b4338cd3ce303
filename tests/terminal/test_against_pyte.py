"""The emulator's screen must equal stock pyte's (Screen + ByteStream) for the streams pyte gets right:
text, attributes (fg, bg, bold, italics, underline, strikethrough, reverse) and cursor, cell by cell."""

from __future__ import annotations

from pathlib import Path

import pyte
import pytest
from pyte.graphics import FG_BG_256

from opstui.terminal.emulator import Terminal

STREAMS = Path(__file__).parent / "streams"


def pyte_screen(data: bytes, cols: int, rows: int) -> pyte.Screen:
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(data)
    return screen


def colour(c: str | int) -> str:
    if isinstance(c, int):
        return FG_BG_256[c]
    return "bfightmagenta" if c == "brightmagenta" else c  # pyte 0.8.2's spelling of SGR 105


def assert_same(term: Terminal, screen: pyte.Screen) -> None:
    assert term.display == screen.display
    for y in range(screen.lines):
        for x in range(screen.columns):
            ours_char, ours = term.cell(x, y)
            theirs = screen.buffer[y][x]
            where = f"cell {x},{y} {theirs.data!r}"
            assert ours_char == theirs.data, where
            assert colour(ours.bg) == theirs.bg, where
            if theirs.data.strip():  # pyte paints erased cells with every cursor attribute, xterm only bg
                assert colour(ours.fg) == theirs.fg, where
                assert (ours.bold, ours.italics, ours.underscore, ours.strikethrough, ours.reverse) == (
                    theirs.bold, theirs.italics, theirs.underscore, theirs.strikethrough, theirs.reverse
                ), where
    assert term.cursor[:2] == (min(screen.cursor.x, screen.columns - 1), screen.cursor.y)


def feed_in_chunks(term: Terminal, data: bytes, size: int) -> None:
    for i in range(0, len(data), size):
        term.feed(data[i : i + size])


RECORDED = ["ls_color", "ls_long", "seq", "printf_moves", "cjk", "long_lines"]


@pytest.mark.parametrize("name", RECORDED)
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_recorded_stream_matches_pyte(name: str, chunk: int) -> None:
    data = (STREAMS / f"{name}.bin").read_bytes()
    term = Terminal(80, 24)
    feed_in_chunks(term, data, chunk)
    assert_same(term, pyte_screen(data, 80, 24))


@pytest.mark.parametrize("size", [(80, 24), (132, 50), (37, 11)])
def test_recorded_streams_at_other_sizes(size: tuple[int, int]) -> None:
    for name in RECORDED:
        if name == "cjk" and size[0] == 37:
            continue  # a wide character reaching the last column: pyte keeps half of it (see test_emulator)
        data = (STREAMS / f"{name}.bin").read_bytes()
        term = Terminal(*size)
        term.feed(data)
        assert_same(term, pyte_screen(data, *size))


def test_curses_program_matches_pyte_until_it_leaves_the_alternate_screen() -> None:
    data = (STREAMS / "curses.bin").read_bytes()
    body = data[: data.index(b"\x1b[?1049l")]
    term = Terminal(80, 24)
    feed_in_chunks(term, body, 64)
    assert term.alt_active
    assert_same(term, pyte_screen(body, 80, 24))
    assert "inserted line" in "\n".join(term.display)
