"""Blocks of whole plain lines (what `cat` and `yes` send) are drawn at once by `Terminal._bulk_lines`; the
screen, scrollback, cursor and attributes must be exactly what drawing them one token at a time gives.
Feeding one byte per `feed()` never takes the bulk path (a block needs the next line in the same chunk),
so it is the reference."""

from __future__ import annotations

import pytest

from opstui.terminal.emulator import Terminal


def state(term: Terminal) -> tuple:
    return (
        term.display,
        [term.line(y).runs(term.cols) for y in range(term.rows)],
        [line.runs(term.cols) for line in term.scrollback],
        term.cursor,
        term.scrolled_off,
        term.attr,
        term._last_char,
    )


def both(data: bytes, cols: int = 20, rows: int = 5, scrollback: int = 100, before: bytes = b"") -> Terminal:
    whole, slow = Terminal(cols, rows, scrollback), Terminal(cols, rows, scrollback)
    for term in (whole, slow):
        term.feed(before)
    whole.feed(data)
    for i in range(len(data)):
        slow.feed(data[i : i + 1])
    assert state(whole) == state(slow)
    return whole


def lines(n: int, width: int = 8) -> bytes:
    return b"".join(b"%-*d\r\n" % (width, i) if i % 3 else b"\r\n" for i in range(n))


@pytest.mark.parametrize("count", [1, 2, 4, 5, 6, 50, 300])
def test_blocks_of_every_size_scroll_as_line_by_line(count: int) -> None:
    both(b"$ cat f\r\n" + lines(count) + b"$ ")


def test_a_block_longer_than_scrollback_keeps_the_newest_lines() -> None:
    term = both(b"start\r\n" + lines(500), scrollback=30)
    assert term.scrollback_len == 30


def test_lines_overwrite_what_the_rows_held() -> None:
    # the cursor moved up over longer rows, some holding wide characters cut by the new text
    before = "0123456789abcdef\r\n中文中文中文中文\r\nxxxxxxxxxxxxxxxxxx\r\n".encode() + b"\x1b[H"
    both(b"\r\nab\r\nabc\r\n\r\nq\r\n", before=before)


def test_a_line_wider_than_the_screen_ends_the_block_and_wraps() -> None:
    both(b"x\r\n" + b"short\r\n" + b"w" * 45 + b"\r\nafter\r\n" * 8, cols=20)


def test_coloured_lines_keep_their_attribute_and_background_colour_is_not_bulk() -> None:
    both(b"\x1b[1;32mgreen\r\n" + lines(12) + b"\x1b[0m\r\n")
    both(b"\x1b[44mblue bg\r\n" + lines(12) + b"\x1b[0m\r\n")


def test_scroll_region_alt_screen_and_insert_mode_take_the_ordinary_path() -> None:
    both(b"\x1b[2;4r\x1b[2H" + lines(12) + b"\x1b[r")
    both(b"\x1b[?1049h" + lines(12) + b"\x1b[?1049l" + lines(3))
    both(b"\x1b[4h" + lines(12) + b"\x1b[4l")


def test_repeated_lines_share_a_row_in_scrollback() -> None:
    term = both(b"y\r\n" * 400, scrollback=200)
    assert term.scrollback_len == 200
    assert len({id(line) for line in term.scrollback}) < 10
    assert term.display[-2] == "y".ljust(20)
