"""Behaviour pyte lacks or gets wrong, and the emulator's read API."""

from __future__ import annotations

from opstui.terminal.emulator import DEFAULT_ATTR, Terminal
from opstui.terminal.keys import encode_key, paste


def screen_text(term: Terminal) -> str:
    return "\n".join(line.rstrip() for line in term.display).rstrip()


def test_split_utf8_and_invalid_bytes() -> None:
    term = Terminal(20, 3)
    data = "é中😀".encode()
    for i in range(len(data)):  # every byte on its own
        term.feed(data[i : i + 1])
    term.feed(b"\xff!")
    assert term.display[0].startswith("é中😀\ufffd!")


def test_wide_characters_take_two_cells() -> None:
    term = Terminal(10, 3)
    term.feed("中a".encode())
    assert term.cell(0, 0) == ("中", DEFAULT_ATTR)
    assert term.cell(1, 0)[0] == ""  # the right half
    assert term.cell(2, 0)[0] == "a"
    assert term.cursor[:2] == (3, 0)
    # a wide character that would straddle the right edge wraps first (xterm; pyte keeps half of it)
    term.feed(b"\r\n123456789" + "字".encode())
    assert term.display[1] == "123456789 "
    assert term.display[2].startswith("字")
    # overwriting half of a wide character blanks the other half
    term.feed(b"\x1b[1;2Hx")
    assert term.display[0].startswith(" xa")


def test_split_escape_sequences() -> None:
    term = Terminal(20, 3)
    data = b"\x1b[1;31mred\x1b[0m\x1b]2;my title\x07\x1b[2;5Hxy"
    for i in range(len(data)):
        term.feed(data[i : i + 1])
    assert term.cell(0, 0)[1].fg == "red" and term.cell(0, 0)[1].bold
    assert term.cell(3, 0)[1] == DEFAULT_ATTR
    assert term.title == "my title"
    assert term.display[1] == "    xy" + " " * 14


def test_alternate_screen_restores_main_screen_and_cursor() -> None:
    term = Terminal(20, 5)
    term.feed(b"$ ls\r\nfile1 file2\r\n$ vim")
    before = term.display
    cursor = term.cursor
    term.feed(b"\x1b[?1049h")
    assert term.alt_active
    assert screen_text(term) == ""  # the alternate screen starts clear
    term.feed(b"\x1b[H~\r\n~\r\n~\r\n~\r\n~\r\n~\r\n~ more lines than fit")  # scrolls the alternate screen
    assert term.scrollback_len == 0  # ... which never feeds scrollback
    term.feed(b"\x1b[?1049l")
    assert not term.alt_active
    assert term.display == before
    assert term.cursor == cursor
    for mode in (b"47", b"1047"):
        term.feed(b"\x1b[?" + mode + b"h\x1b[2J\x1b[Hfull screen app")
        assert "full screen app" in term.display[0]
        term.feed(b"\x1b[?" + mode + b"l")
        assert term.display == before


def test_scrollback_keeps_lines_and_is_bounded() -> None:
    term = Terminal(10, 4, scrollback=50)
    term.feed(b"\r\n".join(b"line %d" % i for i in range(100)))
    assert term.scrollback_len == 50
    assert term.scrolled_off == 96
    assert term.display[-1].rstrip() == "line 99"
    # offset N shows the view N lines up
    assert term.line(0, offset=1).text().rstrip() == "line 95"
    assert term.line(0, offset=50).text().rstrip() == "line 46"
    assert term.line(3, offset=50).text().rstrip() == "line 49"
    runs = term.row(0, offset=4)
    assert runs == [("line 92".ljust(10), DEFAULT_ATTR)]


def test_scrollback_not_fed_by_a_scroll_region_below_the_top() -> None:
    term = Terminal(10, 5)
    term.feed(b"\x1b[2;4r\x1b[4;1H" + b"x\r\n" * 10)
    assert term.scrollback_len == 0
    term.feed(b"\x1b[r\x1b[5;1H" + b"y\r\n" * 3)
    assert term.scrollback_len == 3


def test_device_status_and_attributes_replies() -> None:
    term = Terminal(80, 24)
    term.feed(b"\x1b[5;10Habc")
    assert term.take_replies() == b""
    term.feed(b"\x1b[5n\x1b[6n\x1b[c\x1b[0c\x1b[>c\x1b[?2004$p")
    assert term.take_replies() == b"\x1b[0n\x1b[5;13R\x1b[?62;22c\x1b[?62;22c\x1b[>1;10;0c\x1b[?2004;2$y"
    assert term.take_replies() == b""


def test_su_sd_scroll_the_region() -> None:
    term = Terminal(5, 4)
    term.feed(b"a\r\nb\r\nc\r\nd")
    term.feed(b"\x1b[2S")
    assert [r.strip() for r in term.display] == ["c", "d", "", ""]
    assert term.scrollback_len == 2
    term.feed(b"\x1b[T")
    assert [r.strip() for r in term.display] == ["", "c", "d", ""]


def test_modes() -> None:
    term = Terminal(20, 3)
    assert not term.app_cursor_keys and not term.bracketed_paste and not term.synchronized
    term.feed(b"\x1b[?1h\x1b[?2004h\x1b[?2026h\x1b[?25l")
    assert term.app_cursor_keys and term.bracketed_paste and term.synchronized
    assert term.cursor[2] is False
    term.feed(b"\x1b[?1l\x1b[?2004l\x1b[?2026l\x1b[?25h")
    assert not term.app_cursor_keys and not term.bracketed_paste and not term.synchronized
    assert term.cursor[2] is True


def test_title_is_captured_not_drawn() -> None:
    term = Terminal(20, 2)
    term.feed(b"\x1b]0;user@host: ~\x07\x1b]2;second\x1b\\ok")
    assert term.title == "second"
    assert term.icon_name == "user@host: ~"
    assert term.display[0].rstrip() == "ok"


def test_sgr_colours_and_flags() -> None:
    term = Terminal(40, 2)
    term.feed(
        b"\x1b[31;42ma\x1b[91;103mb\x1b[38;5;208;48;5;17mc\x1b[38;2;1;2;3;48;2;250;251;252md"
        b"\x1b[0;1;2;3;4;7;9me\x1b[22;23;24;27;29mf\x1b[38:2::10:20:30mg\x1b[0mh"
    )
    attrs = [term.cell(x, 0)[1] for x in range(8)]
    assert (attrs[0].fg, attrs[0].bg) == ("red", "green")
    assert (attrs[1].fg, attrs[1].bg) == ("brightred", "brightbrown")
    assert (attrs[2].fg, attrs[2].bg) == (208, 17)
    assert (attrs[3].fg, attrs[3].bg) == ("010203", "fafbfc")
    e = attrs[4]
    assert e.bold and e.dim and e.italics and e.underscore and e.reverse and e.strikethrough
    f = attrs[5]
    assert not (f.bold or f.dim or f.italics or f.underscore or f.reverse or f.strikethrough)
    assert attrs[6].fg == "0a141e"
    assert attrs[7] == DEFAULT_ATTR


def test_dirty_rows_and_row_caches_survive_scrolling() -> None:
    term = Terminal(10, 4)
    term.feed(b"a\r\nb\r\nc\r\nd")
    term.dirty_rows()
    for y in range(4):
        term.line(y).cache = f"rendered {y}"
    term.feed(b"x")
    assert term.dirty_rows() == {3}
    assert term.dirty_rows() == set()
    term.line(3).cache = "rendered 3"
    term.feed(b"\r\ne")  # one scroll: every position changed, but only the new row lost its cache
    assert term.dirty_rows() == {0, 1, 2, 3}
    assert [term.line(y).cache for y in range(4)] == ["rendered 1", "rendered 2", "rendered 3", None]


def test_resize_keeps_the_cursor_row_and_pushes_top_rows_to_scrollback() -> None:
    term = Terminal(20, 6)
    term.feed(b"\r\n".join(b"row %d" % i for i in range(6)))
    term.resize(10, 3)
    assert (term.cols, term.rows) == (10, 3)
    assert [r.rstrip() for r in term.display] == ["row 3", "row 4", "row 5"]
    assert term.cursor[:2] == (5, 2)
    assert term.scrollback_len == 3
    term.resize(30, 8)
    assert len(term.display) == 8 and all(len(r) == 30 for r in term.display)
    term.feed(b"\x1b[6n")
    assert term.take_replies() == b"\x1b[3;6R"


def test_control_characters_never_reach_the_cells() -> None:
    term = Terminal(20, 2)
    term.feed(b"a\x00b\x7fc\x05d\x9b\xc2\x9be")
    text = "".join(term.display)
    assert all(ch.isprintable() for ch in text)
    assert text.startswith("abcd")


def test_keys_encoding() -> None:
    assert encode_key("a", "a") == b"a"
    assert encode_key("A", "A") == b"A"
    assert encode_key("é", "é") == "é".encode()
    assert encode_key("enter", "\r") == b"\r"
    assert encode_key("tab", "\t") == b"\t"
    assert encode_key("shift+tab") == b"\x1b[Z"
    assert encode_key("backspace", "\x7f") == b"\x7f"
    assert encode_key("escape", "\x1b") == b"\x1b"
    assert encode_key("ctrl+a", "\x01") == b"\x01"
    assert encode_key("ctrl+z") == b"\x1a"
    assert encode_key("ctrl+@", "\x00") == b"\x00"
    assert encode_key("ctrl+space") == b"\x00"
    assert encode_key("ctrl+right_square_bracket") == b"\x1d"
    assert encode_key("ctrl+backslash") == b"\x1c"
    assert encode_key("up") == b"\x1b[A"
    assert encode_key("up", app_cursor_keys=True) == b"\x1bOA"
    assert encode_key("left", app_cursor_keys=True) == b"\x1bOD"
    assert encode_key("home") == b"\x1b[H"
    assert encode_key("end", app_cursor_keys=True) == b"\x1bOF"
    assert encode_key("ctrl+up", app_cursor_keys=True) == b"\x1b[1;5A"
    assert encode_key("shift+right") == b"\x1b[1;2C"
    assert encode_key("alt+left") == b"\x1b[1;3D"
    assert encode_key("ctrl+shift+down") == b"\x1b[1;6B"
    assert encode_key("f1") == b"\x1bOP"
    assert encode_key("f4") == b"\x1bOS"
    assert encode_key("f5") == b"\x1b[15~"
    assert encode_key("f12") == b"\x1b[24~"
    assert encode_key("ctrl+f5") == b"\x1b[15;5~"
    assert encode_key("f13") == b"\x1b[1;2P"
    assert encode_key("insert") == b"\x1b[2~"
    assert encode_key("delete") == b"\x1b[3~"
    assert encode_key("pageup") == b"\x1b[5~"
    assert encode_key("pagedown") == b"\x1b[6~"
    assert encode_key("shift+pageup") == b"\x1b[5;2~"
    assert encode_key("alt+x", "x") == b"\x1bx"
    assert encode_key("space", " ") == b" "


def test_paste() -> None:
    assert paste("ls -l\nwhoami", bracketed=False) == b"ls -l\rwhoami"
    assert paste("echo hi\n", bracketed=True) == b"\x1b[200~echo hi\r\x1b[201~"
    evil = "a\x1b[201~; rm -rf /\x1b[20\x1b[201~1~"
    out = paste(evil, bracketed=True)
    assert out.count(b"\x1b[201~") == 1 and out.endswith(b"\x1b[201~")


def test_random_bytes_never_crash_and_cells_stay_printable() -> None:
    import random

    rng = random.Random(7)
    pieces = [b"\x1b[", b"\x1b]", b"\x1bP", b"\x07", b"\x1b\\", b";", b"1", b"9999", b"?", b"m", b"H", b"J",
              b"\r\n", b"\xe4\xb8\xad", b"\xf0\x9f", b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b(0", b"\x1b(B"]
    data = b"".join(
        rng.choice(pieces) if rng.random() < 0.5 else bytes([rng.randrange(256)]) for _ in range(40_000)
    )
    term = Terminal(30, 8, scrollback=100)
    for i in range(0, len(data), 97):
        term.feed(data[i : i + 97])
        term.take_replies()
    for y in range(term.rows):
        assert len(term.display[y]) <= term.cols
        for text, _attr in term.row(y):
            assert all(ch.isprintable() for ch in text), repr(text)
    for y in range(term.rows):
        for x in range(term.cols):
            ch = term.cell(x, y)[0]
            assert ch == "" or ch.isprintable()


def test_dec_special_graphics_charset() -> None:
    term = Terminal(10, 2)
    term.feed(b"\x1b(0lqqk\x1b(B lq")
    assert term.display[0].startswith("┌──┐ lq")


def test_resize_inside_the_alternate_screen_keeps_the_shell_cursor_row() -> None:
    term = Terminal(20, 10)
    term.feed(b"\r\n".join(b"row %d" % i for i in range(10)) + b"\x1b[?1049h\x1b[Hvim")
    term.resize(20, 5)
    term.feed(b"\x1b[?1049l")
    assert term.display[-1].rstrip() == "row 9"
    assert term.cursor[:2] == (5, 4)


def test_emulator_modules_do_not_import_textual() -> None:
    import subprocess
    import sys

    code = "import sys, opstui.terminal.emulator, opstui.terminal.keys; print(any(m.startswith('textual') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
