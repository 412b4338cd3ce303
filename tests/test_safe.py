from opstui.safe import clean


def test_escape_sequences_never_survive():
    out = clean("a\x1b]0;pwned\x07b\x1b[2Jc\x9bd")
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert out.startswith("a␛]0;pwned\\x07b␛[2Jc")


def test_newlines_and_tabs_are_visible_on_one_line():
    assert clean("a\nb\tc") == "a⏎b→c"


def test_markup_is_left_as_text():
    assert clean("[red]x[/red]") == "[red]x[/red]"


def test_long_values_are_capped_with_a_count():
    out = clean("x" * 10_000, limit=100)
    assert out.startswith("x" * 100) and out.endswith("(+9900 chars)")


def test_bidi_overrides_are_escaped():
    assert "\u202e" not in clean("abc\u202eevil")
