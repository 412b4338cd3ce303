"""The viewer's local filter: words, negation, JSON field conditions in both spellings (no UI, no sandbox)."""

import pytest

from opstui.logfilter import FilterError, parse_filter

JSON_ERR = '{"level":"ERROR","status":503,"path":"/api/cart","req":{"ms":950},"ok":false}'
JSON_INFO = '{"level":"INFO","status":200,"path":"/","req":{"ms":12},"ok":true}'


@pytest.mark.parametrize(("text", "err", "info", "plain"), [
    ("level=ERROR", True, False, False),
    ('$.level = "ERROR"', True, False, False),
    ('{ $.level = "ERROR" }', True, False, False),
    ("$.status >= 500", True, False, False),
    ("$.req.ms > 250 && $.path = /api/*", True, False, False),
    ("level != ERROR", False, True, False),
    ("$.ok = false", True, False, False),
    ("error", True, False, True),
    ("error !cart", False, False, True),
    ('"not json"', False, False, True),
    ("", True, True, True),
])
def test_filter_matches(text, err, info, plain):
    flt = parse_filter(text)
    assert (flt.matches(JSON_ERR), flt.matches(JSON_INFO), flt.matches("an ERROR line, not json")) == (err, info, plain)


def test_an_unclosed_quote_is_a_filter_error():
    with pytest.raises(FilterError, match="unbalanced quote"):
        parse_filter('$.level = "ERROR')


def test_highlight_lists_the_positive_words_only():
    assert parse_filter("Timeout !retry level=ERROR").highlight == ("timeout",)
