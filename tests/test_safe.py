"""`opstui.safe` pinned completely: what every character becomes, where the length cap cuts, what survives
`ansi_text`.

Everything a machine we don't control says (tags, names, command output, alarm reasons) reaches the screen
through these three functions, so a regression here is a terminal injection. The tests are pure and fast (no
sandbox) so mutation testing can run them for every mutant of safe.py (`python mutation/run.py safe`).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.style import Style
from rich.text import Text

from opstui.safe import ansi_text, clean, clean_block

#: (first, last) code points that must never reach a terminal as themselves
CONTROL_RANGES = [
    (0x00, 0x1F),  # C0, including BEL, BS, CR, ESC
    (0x7F, 0x7F),  # DEL
    (0x80, 0x9F),  # C1, including the 8-bit CSI (0x9b) and OSC (0x9d)
    (0x2028, 0x2029),  # line and paragraph separators: break a one-line cell
    (0x202A, 0x202E),  # bidi embeddings and overrides: reorder what the user reads
    (0x2066, 0x2069),  # bidi isolates
]
#: the neighbour on each side of each range: printable, kept as is
NEIGHBOURS = [0x20, 0x7E, 0xA0, 0x2027, 0x202F, 0x2065, 0x206A]
NAMED = {"\n": "⏎", "\t": "→", "\r": "\\r", "\x1b": "␛"}


def is_control(code: int) -> bool:
    return any(first <= code <= last for first, last in CONTROL_RANGES)


def escaped(code: int) -> str:
    """What `clean` shows for one control character: a name, or its escape as Python would write it."""
    ch = chr(code)
    if ch in NAMED:
        return NAMED[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def pictured(code: int) -> str:
    """What `clean_block` shows: the Control Pictures block for C0 and DEL, U+FFFD for the rest."""
    if code < 0x20:
        return chr(0x2400 + code)
    return "\u2421" if code == 0x7F else "\ufffd"


CONTROLS = [code for first, last in CONTROL_RANGES for code in range(first, last + 1)]


# -- clean: one line, every control escaped ---------------------------------------------------------------


@pytest.mark.parametrize("code", CONTROLS, ids=[f"U+{c:04X}" for c in CONTROLS])
def test_clean_escapes_every_control_character_of_every_range(code: int) -> None:
    assert clean(f"a{chr(code)}b") == f"a{escaped(code)}b"


def test_clean_uses_the_named_replacements_for_newline_tab_cr_and_esc() -> None:
    assert clean("\n\t\r\x1b") == "⏎→\\r␛"
    assert clean("a\nb\tc") == "a⏎b→c"


def test_clean_writes_other_escapes_as_two_or_four_hex_digits() -> None:
    assert clean("\x00\x07\x7f\x9b") == "\\x00\\x07\\x7f\\x9b"
    assert clean("\u2028\u202e\u2069") == "\\u2028\\u202e\\u2069"


@pytest.mark.parametrize("code", NEIGHBOURS, ids=[f"U+{c:04X}" for c in NEIGHBOURS])
def test_clean_keeps_the_printable_neighbours_of_each_range(code: int) -> None:
    assert clean(f"a{chr(code)}b") == f"a{chr(code)}b"


def test_clean_escapes_exactly_the_control_characters_below_u3000() -> None:
    """The whole of Latin, punctuation and the bidi blocks, one code point at a time, against the ranges."""
    wrong = [
        f"U+{code:04X}"
        for code in range(0x3000)
        if clean(chr(code), limit=None) != (escaped(code) if is_control(code) else chr(code))
    ]
    assert not wrong


def test_escape_sequences_never_survive() -> None:
    out = clean("a\x1b]0;pwned\x07b\x1b[2Jc\x9bd")
    assert out == "a␛]0;pwned\\x07b␛[2Jc\\x9bd"


def test_markup_and_non_ascii_are_left_as_text() -> None:
    assert clean("[red]x[/red] é 日本 ✓") == "[red]x[/red] é 日本 ✓"


def test_none_is_empty_and_other_values_are_their_str() -> None:
    assert clean(None) == ""
    assert clean(42) == "42"


# -- clean: the length cap --------------------------------------------------------------------------------


def test_the_default_cap_is_256_characters_exactly() -> None:
    assert clean("x" * 256) == "x" * 256
    assert clean("x" * 257) == "x" * 256 + "… (+1 chars)"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),  # at the limit: untouched
        ("abcd", 3, "abc… (+1 chars)"),  # one over: cut, and the count says so
        ("abcdefghij", 3, "abc… (+7 chars)"),
        ("ab", 0, "… (+2 chars)"),  # 0 is a limit, not "no limit"
        ("", 0, ""),
        ("x" * 10_000, None, "x" * 10_000),  # None: no cap
    ],
)
def test_the_cap_cuts_exactly_past_the_limit_and_counts_what_it_cut(
    text: str, limit: int | None, expected: str
) -> None:
    assert clean(text, limit=limit) == expected


def test_the_cap_counts_source_characters_and_escapes_what_it_keeps() -> None:
    assert clean("\x00\n\x1b\x00\x00", limit=3) == "\\x00⏎␛… (+2 chars)"
    assert clean("a\x1bb", limit=2) == "a␛… (+1 chars)"


def test_long_values_are_capped_with_a_count() -> None:
    out = clean("x" * 10_000, limit=100)
    assert out == "x" * 100 + "… (+9900 chars)"


# -- clean_block: many lines, one visible character per control -------------------------------------------


@pytest.mark.parametrize("code", CONTROLS, ids=[f"U+{c:04X}" for c in CONTROLS])
def test_clean_block_pictures_every_control_character_but_newline_and_tab(code: int) -> None:
    ch = chr(code)
    expected = ch if ch in "\n\t" else pictured(code)
    assert clean_block(f"a{ch}b") == f"a{expected}b"


def test_clean_block_uses_control_pictures_for_c0_and_del() -> None:
    assert clean_block("\x00\x07\x08\x0b\x0c\r\x1b\x1f\x7f") == "␀␇␈␋␌␍␛␟␡"


def test_clean_block_uses_the_replacement_character_for_c1_and_unicode_controls() -> None:
    assert clean_block("\x80\x9b\x9d\x9f\u2028\u2029\u202a\u202e\u2066\u2069") == "\ufffd" * 10


def test_clean_block_keeps_newlines_and_tabs() -> None:
    assert clean_block("a\tb\nc\n\td") == "a\tb\nc\n\td"


def test_clean_block_folds_crlf_and_pictures_a_lone_cr() -> None:
    assert clean_block("one\r\ntwo\r\n") == "one\ntwo\n"
    assert clean_block("a\rb\r\r\nc") == "a␍b␍\nc"


def test_clean_block_keeps_printable_text_and_the_neighbours_of_each_range() -> None:
    text = "[bold]x[/] é 日本 " + "".join(chr(code) for code in NEIGHBOURS)
    assert clean_block(text) == text


def test_clean_block_of_none_is_empty_and_of_other_values_their_str() -> None:
    assert clean_block(None) == ""
    assert clean_block(3.5) == "3.5"


def test_clean_block_pictures_exactly_the_control_characters_below_u3000() -> None:
    wrong = [
        f"U+{code:04X}"
        for code in range(0x3000)
        if clean_block(chr(code)) != (pictured(code) if is_control(code) and chr(code) not in "\n\t" else chr(code))
    ]
    assert not wrong


@given(st.text())
def test_clean_block_keeps_every_offset_except_where_crlf_folds(text: str) -> None:
    """One visible character per control character: spans computed on the raw text still fit."""
    out = clean_block(text)
    assert len(out) == len(text) - text.count("\r\n")
    assert not any(is_control(ord(ch)) and ch not in "\n\t" for ch in out)


# -- ansi_text: colours kept, everything else dropped or made visible -------------------------------------


def spans(text: Text) -> list[tuple[int, int, str]]:
    return [(span.start, span.end, str(span.style)) for span in text.spans]


def test_ansi_text_keeps_sgr_colours_on_the_right_characters() -> None:
    out = ansi_text("\x1b[31mred\x1b[0m plain \x1b[1;4;32mok\x1b[0m")
    assert out.plain == "red plain ok"
    assert spans(out) == [(0, 3, "color(1)"), (10, 12, "bold underline color(2)")]
    assert out.end == ""  # no newline appended: the widget lays out lines itself


def test_ansi_text_drops_osc_titles_with_either_terminator() -> None:
    assert ansi_text("a\x1b]0;pwned\x07b").plain == "ab"
    assert ansi_text("a\x1b]2;pwned\x1b\\b").plain == "ab"
    assert ansi_text("a\x1b]0;never terminated").plain == "a"


def test_ansi_text_drops_hyperlinks_and_keeps_their_text() -> None:
    out = ansi_text("see \x1b]8;;https://evil.example\x1b\\here\x1b]8;;\x1b\\ now")
    assert out.plain == "see here now"
    assert all(not isinstance(s.style, Style) or s.style.link is None for s in out.spans)


def test_ansi_text_drops_clipboard_writes() -> None:
    assert ansi_text("a\x1b]52;c;cm0gLXJmIH4=\x07b\x1b]52;p;?\x1b\\c").plain == "abc"


def test_ansi_text_drops_cursor_moves_and_screen_clears() -> None:
    assert ansi_text("a\x1b[2J\x1b[Hb\x1b[10;5Hc\x1b[?25l\x1b[3Ad\x1b7e\x1b8").plain == "abcde"


def test_ansi_text_makes_leftover_controls_visible_keeping_offsets() -> None:
    out = ansi_text("\x1b[31ma\x00b\x7fc\x9bd\u202ee\x1b[0m!")
    assert out.plain == "a␀b␡c\ufffdd\ufffde!"
    assert spans(out) == [(0, 9, "color(1)")]  # the colour still covers exactly the coloured characters


def test_ansi_text_folds_crlf_so_no_line_is_lost() -> None:
    """Rich's decoder keeps only what follows the last CR of a line: CRLF output must not lose its lines."""
    assert ansi_text("one\r\ntwo\r\n").plain == "one\ntwo\n"


def test_ansi_text_shows_a_carriage_return_overwrite_as_its_final_state() -> None:
    assert ansi_text("progress 10%\rprogress 100%\ndone").plain == "progress 100%\ndone"


def test_ansi_text_keeps_newlines_tabs_and_markup_as_text() -> None:
    out = ansi_text("[red]a[/red]\tb\nc")
    assert out.plain == "[red]a[/red]\tb\nc" and out.spans == []


def test_a_hyperlink_pieced_together_by_removing_another_osc_still_loses_its_link() -> None:
    """Removing one OSC can join an ESC before it to a `]8;;url` after it, making a new hyperlink that
    reaches Rich's decoder; the link is then stripped from the style, the colour is kept."""
    joined = "\x1b[31m\x1b\x1b]0;x\x07]8;;https://evil.example\x1b\\click\x1b\x1b]0;x\x07]8;;\x1b\\\x1b[0m!"
    assert Text.from_ansi(joined.replace("\x1b]0;x\x07", "")).spans[0].style.link  # the decoder does link it
    out = ansi_text(joined)
    assert out.plain == "click!"
    assert spans(out) == [(0, 5, "color(1)")]
    assert out.spans[0].style.link is None


def test_pictured_pictures_exactly_the_control_characters_but_tab_below_u3000() -> None:
    from opstui.safe import pictured

    wrong = [f"U+{code:04X}" for code in range(0x3000)
             if (pictured(chr(code)) != chr(code)) != (is_control(code) and code != 0x09)]
    assert not wrong


def test_json_text_escapes_exactly_del_c1_and_the_line_and_bidi_controls_below_u3000() -> None:
    from opstui.safe import json_text

    unsafe = set(range(0x7F, 0xA0)) | {0x2028, 0x2029} | set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
    wrong = [f"U+{code:04X}" for code in range(0x20, 0x3000) if code not in (0x22, 0x5C)
             and (json_text(chr(code)) != f'"{chr(code)}"') != (code in unsafe)]
    assert not wrong


def test_pictured_keeps_length_and_tabs_and_pictures_every_other_control() -> None:
    from opstui.safe import pictured

    raw = "a\x1b]0;t\x07b\nc\td\x7f\x9b\u202e\u2028"
    shown = pictured(raw)
    assert len(shown) == len(raw)  # a cursor index into the value is an index into the picture
    assert shown == "a␛]0;t␇b␊c\td␡\ufffd\ufffd\ufffd"
    assert pictured("plain ascii, 日本語") == "plain ascii, 日本語"
    assert pictured("\x00\x1f ") == "␀␟ "


def test_json_text_escapes_what_a_terminal_would_act_on_and_round_trips() -> None:
    import json

    from opstui.safe import json_text

    value = {"out": "x\x1b[2J\x07\x7f\x9b\u2028\u2029\u202a\u202e\u2066\u2069 日本 [b]", "n": [1, None]}
    text = json_text(value, indent=1)
    assert json.loads(text) == value and text.startswith('{\n "out"')  # the keyword arguments reach json.dumps
    assert not any(ch in text for ch in "\x1b\x07\x7f\x9b\u2028\u2029\u202a\u202e\u2066\u2069")
    assert "日本" in text and "\\u009b" in text and "\\u202e" in text and "\\u2069" in text
    assert json_text({"a": "b"}) == '{"a": "b"}'
