"""A fast VT/xterm terminal emulator for remote shells (no Textual imports).

`Terminal` keeps pyte's model of a screen (cursor that may sit one past the last column while a wrap is
pending, DECAWM/IRM/DECOM/LNM, tab stops, margins, pyte's colour names and 256-colour table, its DEC
special-graphics charset and its cached `wcwidth`), and is tested cell by cell against stock
`pyte.Screen` + `pyte.ByteStream` on recorded streams (tests/terminal). What it replaces, and why:

- the parser: one compiled regex tokenises a whole chunk (text runs, CR LF, C0 controls, CSI, OSC, DCS, ESC)
  instead of pyte's one-generator-step-per-escape-character state machine; a sequence cut by the end of a
  chunk is kept and completed by the next `feed`;
- the buffer: each row is a `Line` holding a list of characters and a parallel list of attribute tuples, so a
  run of printable text is two slice assignments instead of one `Char._replace` per cell;
- dirty tracking: rows are objects that move when the screen scrolls, each with a `cache` slot the renderer
  fills and every write clears, so a scroll re-renders only the new row; a full-screen scroll sets one flag
  instead of adding every row to a set;
- what pyte lacks: alternate screen (47/1047/1049), bounded scrollback, SU/SD, REP, DSR/DA/DECRQM answers,
  bracketed paste, DECCKM, synchronized output (2026), dim/conceal, xterm's background-colour erase.

Colours in `Attr.fg`/`Attr.bg`: "default", pyte's names for SGR 30-37/40-47/90-97/100-107 ("red",
"brown" for yellow, "brightred", ...), an int 0-255 for 38;5;n / 48;5;n, or "rrggbb" hex for true colour.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import deque
from typing import NamedTuple

from pyte import charsets as _charsets
from pyte.graphics import BG_AIXTERM, BG_ANSI, FG_AIXTERM, FG_ANSI
from pyte.screens import wcwidth

__all__ = ["Attr", "Line", "Terminal", "DEFAULT_ATTR"]

_BG_AIXTERM = dict(BG_AIXTERM)
_BG_AIXTERM[105] = "brightmagenta"  # pyte 0.8.2 spells it "bfightmagenta"

MAX_PARAM = 9999
MAX_PENDING = 1 << 16  # an unterminated OSC/DCS longer than this is dropped


class Attr(NamedTuple):
    """Attributes of one cell (field names follow pyte's `Char`, plus `dim` and `conceal`)."""

    fg: str | int = "default"
    bg: str | int = "default"
    bold: bool = False
    dim: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    conceal: bool = False


DEFAULT_ATTR = Attr()

_SGR_FLAGS = {
    1: ("bold", True), 2: ("dim", True), 3: ("italics", True), 4: ("underscore", True),
    5: ("blink", True), 6: ("blink", True), 7: ("reverse", True), 8: ("conceal", True),
    9: ("strikethrough", True), 21: ("underscore", True), 23: ("italics", False),
    24: ("underscore", False), 25: ("blink", False), 27: ("reverse", False), 28: ("conceal", False),
    29: ("strikethrough", False),
}


class Line:
    """One row of cells. `chars[x]` is the text of cell x ("" for the right half of a wide character),
    `attrs[x]` its Attr. The lists may be shorter than the screen is wide: cells past their end are
    blanks with DEFAULT_ATTR (so a new row costs two empty lists and scrollback keeps only what was
    written). `cache` belongs to the renderer: every write sets it to None.

    A row of plain ASCII that went straight to scrollback (`Terminal._bulk_lines`) holds `chars` as a str
    and `attrs` as a tuple: scrollback rows are only read, and both read like the lists."""

    __slots__ = ("chars", "attrs", "cache")

    def __init__(self, cols: int = 0, attr: Attr = DEFAULT_ATTR) -> None:
        if attr is DEFAULT_ATTR or not cols:
            self.chars: list[str] = []
            self.attrs: list[Attr] = []
        else:
            self.chars = [" "] * cols
            self.attrs = [attr] * cols
        self.cache: object = None

    def text(self, cols: int | None = None) -> str:
        """The row as a string, padded with blanks to `cols` (or as long as it was written)."""
        s = "".join(self.chars)
        if cols is not None and len(self.chars) < cols:
            s += " " * (cols - len(self.chars))
        return s

    def pad(self, cols: int) -> None:
        """Make the lists exactly `cols` long (blank cells appended)."""
        n = cols - len(self.chars)
        if n > 0:
            self.chars.extend([" "] * n)
            self.attrs.extend([DEFAULT_ATTR] * n)

    def runs(self, cols: int | None = None) -> list[tuple[str, Attr]]:
        """The row as (text, attr) runs of equal attributes, padded with a blank run to `cols` and cut
        at `cols`; wide-character stubs are dropped from the text."""
        chars, attrs = self.chars, self.attrs
        if cols is not None and len(chars) > cols:
            chars, attrs = chars[:cols], attrs[:cols]
            if chars and chars[-1] and wcwidth(chars[-1][0]) == 2:
                chars[-1] = " "
        out: list[tuple[str, Attr]] = []
        if attrs:
            start = 0
            cur = attrs[0]
            for i, a in enumerate(attrs):
                if a is not cur and a != cur:
                    out.append(("".join(chars[start:i]), cur))
                    start = i
                    cur = a
            out.append(("".join(chars[start:]), cur))
        if cols is not None and len(chars) < cols:
            gap = " " * (cols - len(chars))
            if out and out[-1][1] == DEFAULT_ATTR:
                out[-1] = (out[-1][0] + gap, DEFAULT_ATTR)
            else:
                out.append((gap, DEFAULT_ATTR))
        return out

    def resize(self, cols: int) -> None:
        if cols < len(self.chars):
            del self.chars[cols:]
            del self.attrs[cols:]
            if cols and self.chars[-1] and wcwidth(self.chars[-1][0]) == 2:
                self.chars[-1] = " "
            self.cache = None


_TOKEN = re.compile(
    r"""
    (?P<text>[^\x00-\x1f\x7f-\x9f]+)(?P<nl>\r\n)?                      # 1, 2: printable run (+ CR LF)
    |(?P<crlf>\r\n)                                                      # 3
    |(?P<ctl>[\x00-\x1a\x1c-\x1f\x7f-\x9f])                              # 4: C0 (not ESC), DEL, C1
    |\x1b\[(?P<cp>[<=>?]?)(?P<ca>[0-9;:]*)(?P<ci>[\x20-\x2f]*)(?P<cf>[\x40-\x7e])   # 5-8: CSI
    |\x1b\](?P<osc>[^\x07\x1b]*)(?P<oscend>\x07|\x1b\\)                  # 9, 10: OSC
    |\x1b(?P<str>[P^_X][^\x1b]*)(?P<strend>\x1b\\)                     # 11, 12: DCS/PM/APC/SOS
    |\x1b(?P<esc>[\x20-\x2f]+[\x30-\x7e]|[\x30-\x4f\x51-\x57\x59\x5a\x5c\x60-\x7e])  # 13: other ESC
    |(?P<bad>\x1b)                                                       # 14: unfinished or malformed
    """,
    re.VERBOSE,
)
_T_TEXT, _T_NL, _T_CRLF, _T_CTL, _T_CSI, _T_OSC, _T_STR, _T_ESC, _T_BAD = 1, 2, 3, 4, 8, 10, 12, 13, 14
# What may still be completed by the next chunk: a prefix of one of the sequences above, up to the end.
_UNFINISHED = re.compile(
    r"\x1b(?:\[[<=>?]?[0-9;:]*[\x20-\x2f]*|\][^\x07\x1b]*\x1b?|[P^_X][^\x1b]*\x1b?|[\x20-\x2f]*)?\Z"
)

_DEC_GRAPHICS = _charsets.VT100_MAP
# A block of whole lines of printable ASCII, each ended by CR LF (what `cat` and `yes` send): drawn at once.
_LINES = re.compile(r"(?:[\x20-\x7e]*\r\n)+")


_new_line = Line.__new__
_ATTR_RUNS: dict[tuple[Attr, int], tuple[Attr, ...]] = {}


def _line_of(text: str, attr: Attr) -> Line:
    """A new row holding `text` from column 0 in `attr`, for the screen (lists, written in place later)."""
    line = Line()
    if text:
        line.chars = list(text)
        line.attrs = [attr] * len(text)
    return line


def _scrollback_line_of(text: str, attr: Attr) -> Line:
    """A row that goes straight to scrollback, which is never written: `chars` is the str itself and `attrs`
    a tuple shared by every row of that length and attribute. No list is built, and the garbage collector,
    which scans every list on each full collection, has one object per row to look at instead of three."""
    line = _new_line(Line)
    line.chars = text  # type: ignore[assignment]  # read-only row: indexing, slicing and len() as a list's
    key = (attr, len(text))
    attrs = _ATTR_RUNS.get(key)
    if attrs is None:
        if len(_ATTR_RUNS) > 4096:
            _ATTR_RUNS.clear()
        attrs = _ATTR_RUNS[key] = (attr,) * len(text)
    line.attrs = attrs  # type: ignore[assignment]
    line.cache = None
    return line


def _write_line(line: Line, text: str, attr: Attr) -> None:
    """Draw `text` on `line` from column 0 (the text fits the row)."""
    n = len(text)
    if not n:
        return
    chars = line.chars
    if not chars:
        line.chars = list(text)
        line.attrs = [attr] * n
    else:
        if n < len(chars) and chars[n] == "":
            chars[n] = " "  # overwrote the left half of a wide character
        chars[:n] = text
        line.attrs[:n] = [attr] * n
    line.cache = None


class Terminal:
    """A terminal screen fed with the raw bytes of a remote shell.

    `feed(bytes)` parses; `row(y, offset)` / `line(y, offset)` read rows (offset > 0 looks into
    scrollback); `dirty_rows()` tells the renderer which rows changed; `take_replies()` returns bytes the
    remote side asked for (DSR, DA, DECRQM).
    """

    def __init__(self, cols: int = 80, rows: int = 24, scrollback: int = 10_000) -> None:
        self.cols = max(1, cols)
        self.rows = max(1, rows)
        self.scrollback_limit = max(0, scrollback)
        self.scrollback: deque[Line] = deque(maxlen=self.scrollback_limit)
        #: total lines ever pushed into scrollback (lets a viewer keep its place while output arrives)
        self.scrolled_off = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._replies = bytearray()
        self._sgr_cache: dict[tuple[Attr, str], Attr] = {}
        self.title = ""
        self.icon_name = ""
        self.bell_count = 0
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """RIS: everything back to power-on state (scrollback is kept)."""
        self.main_lines = [Line(self.cols) for _ in range(self.rows)]
        self.alt_lines: list[Line] | None = None
        self.lines = self.main_lines
        self.alt_active = False
        self.x = 0
        self.y = 0
        self.attr = DEFAULT_ATTR
        self.top = 0
        self.bottom = self.rows - 1
        self.autowrap = True
        self.insert_mode = False
        self.origin_mode = False
        self.newline_mode = False
        self.cursor_visible = True
        self.app_cursor_keys = False
        self.app_keypad = False
        self.bracketed_paste = False
        self.synchronized = False
        self.mouse_modes: set[int] = set()
        self.focus_events = False
        self.tabstops = set(range(8, self.cols, 8))
        self.g0_graphics = False
        self.g1_graphics = False
        self.shifted = False  # SO active (G1)
        self._graphics = False  # the active charset is DEC special graphics
        self._saved: dict[bool, tuple] = {}
        self._last_char = ""
        self._dirty: set[int] = set()
        self._all_dirty = True

    @property
    def cursor(self) -> tuple[int, int, bool]:
        """(x, y, visible); x is clamped to the last column while a wrap is pending."""
        return min(self.x, self.cols - 1), self.y, self.cursor_visible

    @property
    def scrollback_len(self) -> int:
        return len(self.scrollback)

    @property
    def display(self) -> list[str]:
        """Screen rows as strings (like pyte's `Screen.display`)."""
        cols = self.cols
        return [line.text(cols) for line in self.lines]

    def cell(self, x: int, y: int) -> tuple[str, Attr]:
        line = self.lines[y]
        if x >= len(line.chars):
            return " ", DEFAULT_ATTR
        return line.chars[x], line.attrs[x]

    def line(self, y: int, offset: int = 0) -> Line:
        """Row y of the view scrolled `offset` lines up into scrollback (offset 0: the live screen)."""
        if offset <= 0:
            return self.lines[y]
        i = len(self.scrollback) - offset + y
        if i < len(self.scrollback):
            return self.scrollback[i] if i >= 0 else _EMPTY_LINE
        return self.lines[i - len(self.scrollback)]

    def row(self, y: int, offset: int = 0) -> list[tuple[str, Attr]]:
        """Row y as (text, Attr) runs; see `line`."""
        return self.line(y, offset).runs(self.cols)

    def dirty_rows(self, clear: bool = True) -> set[int]:
        """Screen rows whose content (or whose position, after a scroll) changed since the last call.

        After a scroll every row has moved, so all rows are reported, but only rows whose `Line.cache`
        is None need re-rendering: the rows that moved keep their cache."""
        rows = set(range(self.rows)) if self._all_dirty else self._dirty
        if clear:
            self._dirty = set()
            self._all_dirty = False
        elif rows is self._dirty:
            rows = set(rows)
        return rows

    def take_replies(self) -> bytes:
        """Bytes the remote side asked for (device status, attributes, mode reports); cleared."""
        out = bytes(self._replies)
        self._replies.clear()
        return out

    def _blank(self) -> Attr:
        """Attributes of erased cells: xterm's background-colour erase (bce)."""
        a = self.attr
        if a.bg == "default":
            return DEFAULT_ATTR
        return DEFAULT_ATTR._replace(bg=a.bg)

    # ------------------------------------------------------------------ input
    def feed(self, data: bytes | str) -> None:
        """Parse a chunk of output from the remote side (bytes are decoded as UTF-8 incrementally)."""
        s = self._decoder.decode(data) if isinstance(data, bytes | bytearray | memoryview) else data
        if self._pending:
            s = self._pending + s
            self._pending = ""
        if not s:
            return
        pos = 0
        n = len(s)
        finditer = _TOKEN.finditer
        draw = self._draw
        sgr_cache = self._sgr_cache
        cols = self.cols
        while pos < n:
            for m in finditer(s, pos):
                k = m.lastindex
                if k <= _T_NL:  # printable text, maybe followed by CR LF
                    text = m.group(1)
                    x = self.x
                    end = x + len(text)
                    # inline fast path: ASCII that fits on the current row, no insert mode or DEC graphics
                    if end <= cols and text.isascii() and not self.insert_mode and not self._graphics:
                        y = self.y
                        line = self.lines[y]
                        chars = line.chars
                        have = len(chars)
                        if have < x:
                            chars.extend([" "] * (x - have))
                            line.attrs.extend([DEFAULT_ATTR] * (x - have))
                        elif have > x:
                            if x and chars[x] == "":
                                chars[x - 1] = " "  # overwrote the right half of a wide character
                            if end < have and chars[end] == "":
                                chars[end] = " "  # ... or the left half of one
                        chars[x:end] = text
                        line.attrs[x:end] = [self.attr] * (end - x)
                        line.cache = None
                        self._dirty.add(y)
                        self.x = end
                        self._last_char = text[-1]
                    else:
                        draw(text)
                    if k == _T_NL:
                        self.x = 0
                        if self.y == self.bottom:
                            self.scroll_up(1)
                        elif self.y < self.rows - 1:
                            self.y += 1
                        block = _LINES.match(s, m.end())
                        if block is not None and self._bulk_ok():
                            pos = self._bulk_lines(s, m.end(), block.end())
                            break
                elif k == _T_CSI:
                    private, params, inter, final = m.group(5, 6, 7, 8)
                    if final == "m" and not private and not inter:
                        attr = sgr_cache.get((self.attr, params))
                        if attr is None:
                            attr = self._sgr_lookup(params)
                        self.attr = attr
                    else:
                        self._csi(private, params, inter, final)
                        cols = self.cols
                elif k == _T_CRLF:
                    self.x = 0
                    self.index()
                    block = _LINES.match(s, m.end())
                    if block is not None and self._bulk_ok():
                        pos = self._bulk_lines(s, m.end(), block.end())
                        break
                elif k == _T_CTL:
                    self._control(m.group(4))
                elif k == _T_ESC:
                    self._esc(m.group(13))
                    cols = self.cols
                elif k == _T_OSC:
                    self._osc(m.group(9))
                elif k == _T_STR:
                    pass  # DCS / PM / APC / SOS: swallowed
                else:  # a lone ESC: either cut by the end of the chunk or malformed
                    start = m.start()
                    if _UNFINISHED.match(s, start):
                        if n - start <= MAX_PENDING:
                            self._pending = s[start:]
                        pos = n
                    else:
                        pos = start + 1  # drop the ESC, carry on with what follows
                    break
            else:
                pos = n

    # ------------------------------------------------------------------ whole lines at once
    def _bulk_ok(self) -> bool:
        """Whether a block of plain ASCII lines can take `_bulk_lines`: the cursor at the start of a row after
        CR LF, no insert mode or DEC graphics, the scroll region the whole screen, and erased cells blank."""
        return (self.x == 0 and not self.insert_mode and not self._graphics and self.top == 0
                and self.bottom == self.rows - 1 and self.attr.bg == "default")

    def _bulk_lines(self, s: str, start: int, end: int) -> int:
        """Draw the CR LF terminated printable-ASCII lines of s[start:end] (the cursor at column 0), as
        drawing each line and then CR LF would, and return where parsing goes on.

        This is what `cat` of a large file and `yes` produce: a scrolling screen of plain lines. Each line
        costs one `Line` built from its text (no regex match, no pop/insert of the screen list per line), and
        lines that would only pass through scrollback beyond its limit are never built. A line wider than the
        screen (it would wrap) ends the block; the tokeniser takes it from there."""
        texts = s[start:end].split("\r\n")
        texts.pop()  # the empty string after the last CR LF
        cols = self.cols
        if max(map(len, texts)) > cols:
            del texts[next(i for i, text in enumerate(texts) if len(text) > cols):]
            if not texts:
                return start
        end = start + sum(map(len, texts)) + 2 * len(texts)
        attr = self.attr
        lines = self.lines
        dirty = self._dirty
        y = self.y
        bottom = self.bottom
        i = 0
        count = len(texts)
        # rows below the cursor are written in place until the cursor reaches the bottom
        while y < bottom and i < count:
            _write_line(lines[y], texts[i], attr)
            dirty.add(y)
            y += 1
            i += 1
        if i < count:
            # the rest: the first is written on the bottom row, each followed by a scroll of the whole screen
            _write_line(lines[bottom], texts[i], attr)
            rest = texts[i + 1:]
            scrolls = count - i
            keep = (self.scrollback_limit if not self.alt_active else 0) + self.rows
            if len(rest) > keep:  # built only to fall out of scrollback at once
                rest = rest[len(rest) - keep:]
            on_screen = self.rows - 1  # the last texts stay on the screen, above the new blank bottom row
            cut = max(0, len(rest) - on_screen)
            # equal texts share one row (scrollback is read-only): a `yes` flood is one object, not thousands
            memo: dict[str, Line] = {}
            made = [memo.get(text) or memo.setdefault(text, _scrollback_line_of(text, attr)) for text in rest[:cut]]
            made.extend([_line_of(text, attr) for text in rest[cut:]])
            made.append(Line())
            every = lines + made
            self.lines[:] = every[-self.rows:] if len(every) > self.rows else every
            if not self.alt_active and self.scrollback_limit:
                self.scrollback.extend(every[:-self.rows])
                self.scrolled_off += scrolls
            self._all_dirty = True
            y = bottom
        self.y = y
        self.x = 0
        for text in reversed(texts):
            if text:
                self._last_char = text[-1]
                break
        return end

    # ------------------------------------------------------------------ drawing
    def _draw(self, text: str) -> None:
        if self._graphics:
            text = text.translate(_DEC_GRAPHICS)
        if self.insert_mode or not text.isascii():
            self._draw_slow(text)
            return
        cols = self.cols
        x = self.x
        pos = 0
        n = len(text)
        attr = self.attr
        while pos < n:
            if x >= cols:
                if self.autowrap:
                    self.x = 0
                    self.index()
                    x = 0
                else:
                    pos = n - 1  # without autowrap every further character lands on the last column
                    x = cols - 1
            line = self.lines[self.y]
            chars = line.chars
            k = min(cols - x, n - pos)
            end = x + k
            have = len(chars)
            if have < x:
                chars.extend([" "] * (x - have))
                line.attrs.extend([DEFAULT_ATTR] * (x - have))
            elif have > x:
                if x and chars[x] == "":
                    chars[x - 1] = " "
                if end < have and chars[end] == "":
                    chars[end] = " "
            chars[x:end] = text[pos:pos + k]
            line.attrs[x:end] = [attr] * k
            line.cache = None
            x = end
            pos += k
            self._dirty.add(self.y)
        self.x = x
        self._last_char = text[-1]

    def _draw_slow(self, text: str) -> None:
        cols = self.cols
        attr = self.attr
        for ch in text:
            w = wcwidth(ch)
            if w < 0:
                ch, w = "\ufffd", 1
            if w == 0:
                if unicodedata.combining(ch):
                    self._combine(ch)
                continue  # other zero-width characters (ZWJ, variation selectors) are dropped
            if self.x + w > cols:
                if self.autowrap:
                    self.x = 0
                    self.index()
                else:
                    self.x = cols - w
            if self.insert_mode:
                self.insert_characters(w)
            line = self.lines[self.y]
            if len(line.chars) < cols:
                line.pad(cols)
            chars = line.chars
            x = self.x
            if chars[x] == "" and x:
                chars[x - 1] = " "
            chars[x] = ch
            line.attrs[x] = attr
            if w == 2:
                chars[x + 1] = ""
                line.attrs[x + 1] = attr
            if x + w < cols and chars[x + w] == "":
                chars[x + w] = " "
            line.cache = None
            self._dirty.add(self.y)
            self.x = x + w
            self._last_char = ch

    def _combine(self, ch: str) -> None:
        x, y = self.x, self.y
        if x:
            line = self.lines[y]
            x -= 1
            if line.chars[x] == "" and x:
                x -= 1
        elif y:
            y -= 1
            line = self.lines[y]
            x = self.cols - 1
        else:
            return
        line.pad(self.cols)
        line.chars[x] = unicodedata.normalize("NFC", line.chars[x] + ch)
        line.cache = None
        self._dirty.add(y)

    # ------------------------------------------------------------------ C0 controls
    def _control(self, c: str) -> None:
        if c == "\n" or c == "\x0b" or c == "\x0c":
            self.index()
            if self.newline_mode:
                self.x = 0
        elif c == "\r":
            self.x = 0
        elif c == "\x08":
            self.cursor_back(1)
        elif c == "\t":
            self.tab()
        elif c == "\x07":
            self.bell_count += 1
        elif c == "\x0e":
            self.shifted = True
            self._graphics = self.g1_graphics
        elif c == "\x0f":
            self.shifted = False
            self._graphics = self.g0_graphics
        elif c == "\x18" or c == "\x1a":
            pass  # CAN / SUB outside a sequence: nothing to cancel
        # NUL, DEL and C1 controls are ignored

    def _esc(self, seq: str) -> None:
        if len(seq) == 1:
            if seq == "7":
                self.save_cursor()
            elif seq == "8":
                self.restore_cursor()
            elif seq == "D":
                self.index()
            elif seq == "E":
                self.x = 0
                self.index()
            elif seq == "M":
                self.reverse_index()
            elif seq == "H":
                self.tabstops.add(min(self.x, self.cols - 1))
            elif seq == "c":
                self.reset()
            elif seq == "=":
                self.app_keypad = True
            elif seq == ">":
                self.app_keypad = False
            return
        lead, code = seq[0], seq[-1]
        if lead in "()":
            graphics = code == "0"
            if lead == "(":
                self.g0_graphics = graphics
            else:
                self.g1_graphics = graphics
            self._graphics = self.g1_graphics if self.shifted else self.g0_graphics
        elif seq == "#8":
            self.alignment_display()

    def _osc(self, body: str) -> None:
        code, _, param = body.partition(";")
        param = "".join(c for c in param if c.isprintable())
        if code in ("0", "1"):
            self.icon_name = param
        if code in ("0", "2"):
            self.title = param

    # ------------------------------------------------------------------ CSI
    def _csi(self, private: str, params: str, inter: str, final: str) -> None:
        if final == "m" and not private and not inter:
            self.attr = self._sgr_cache.get((self.attr, params)) or self._sgr_lookup(params)
            return
        args = [min(int(p), MAX_PARAM) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")]
        a0 = args[0]
        if inter:
            if inter == "$" and final == "p":
                self._report_mode(a0, private == "?")
            elif inter == "!" and final == "p":
                self.soft_reset()
            return  # DECSCUSR (" q") and others: ignored
        if private:
            if private == "?":
                if final == "h":
                    self._set_private(args, True)
                elif final == "l":
                    self._set_private(args, False)
                elif final == "n" and a0 == 6:
                    self._reply(f"\x1b[?{self._report_y()};{min(self.x, self.cols - 1) + 1}R")
                elif final == "J":
                    self.erase_in_display(a0)
                elif final == "K":
                    self.erase_in_line(a0)
            elif private == ">" and final == "c" and a0 == 0:
                self._reply("\x1b[>1;10;0c")
            return
        handler = _CSI_HANDLERS.get(final)
        if handler is not None:
            handler(self, args)

    def _sgr_lookup(self, params: str) -> Attr:
        attr = self._sgr(self.attr, params)
        if len(self._sgr_cache) > 4096:
            self._sgr_cache.clear()
        self._sgr_cache[(self.attr, params)] = attr
        return attr

    def _reply(self, s: str) -> None:
        self._replies += s.encode()

    def _report_y(self) -> int:
        return self.y + 1 - (self.top if self.origin_mode else 0)

    def _report_mode(self, mode: int, private: bool) -> None:
        if private:
            known = {
                1: self.app_cursor_keys, 6: self.origin_mode, 7: self.autowrap, 25: self.cursor_visible,
                47: self.alt_active, 1047: self.alt_active, 1049: self.alt_active,
                2004: self.bracketed_paste, 2026: self.synchronized, 1004: self.focus_events,
            }
            known.update({m: m in self.mouse_modes for m in (1000, 1002, 1003, 1006)})
            value = known.get(mode)
            state = 0 if value is None else (1 if value else 2)
            self._reply(f"\x1b[?{mode};{state}$y")
        else:
            value = {4: self.insert_mode, 20: self.newline_mode}.get(mode)
            state = 0 if value is None else (1 if value else 2)
            self._reply(f"\x1b[{mode};{state}$y")

    @staticmethod
    def _sgr(attr: Attr, params: str) -> Attr:
        if not params or params == "0":
            return DEFAULT_ATTR
        colon = ":" in params
        codes: list[int] = []
        for p in params.split(";"):
            if colon and ":" in p:  # ISO 8613-6 sub-parameters: 38:2::r:g:b, 38:5:n, 4:3
                sub = [int(s) if s.isdigit() else 0 for s in p.split(":")]
                if sub[0] in (38, 48) and len(sub) > 1:
                    if sub[1] == 2 and len(sub) >= 5:
                        sub = [sub[0], 2, *sub[-3:]]
                    codes.extend(sub)
                elif sub[0] == 4:
                    codes.append(24 if len(sub) > 1 and sub[1] == 0 else 4)
                else:
                    codes.append(sub[0])
            else:
                codes.append(int(p) if p.isdigit() else 0)
        replace: dict[str, object] = {}
        i = 0
        n = len(codes)
        while i < n:
            c = codes[i]
            i += 1
            if c == 0:
                replace = dict(DEFAULT_ATTR._asdict())
            elif c in _SGR_FLAGS:
                name, value = _SGR_FLAGS[c]
                replace[name] = value
            elif c == 22:
                replace["bold"] = False
                replace["dim"] = False
            elif c in FG_ANSI:
                replace["fg"] = FG_ANSI[c]
            elif c in BG_ANSI:
                replace["bg"] = BG_ANSI[c]
            elif c in FG_AIXTERM:
                replace["fg"] = FG_AIXTERM[c]
            elif c in _BG_AIXTERM:
                replace["bg"] = _BG_AIXTERM[c]
            elif c == 38 or c == 48:
                key = "fg" if c == 38 else "bg"
                if i < n and codes[i] == 5 and i + 1 < n:
                    replace[key] = min(codes[i + 1], 255)
                    i += 2
                elif i < n and codes[i] == 2 and i + 3 < n:
                    r, g, b = (min(v, 255) for v in codes[i + 1:i + 4])
                    replace[key] = f"{r:02x}{g:02x}{b:02x}"
                    i += 4
                else:
                    i = n
        return attr._replace(**replace) if replace else attr

    def _set_private(self, modes: list[int], on: bool) -> None:
        for mode in modes:
            if mode == 1:
                self.app_cursor_keys = on
            elif mode == 25:
                self.cursor_visible = on
            elif mode == 7:
                self.autowrap = on
            elif mode == 6:
                self.origin_mode = on
                self.cursor_position(1, 1)
            elif mode == 2004:
                self.bracketed_paste = on
            elif mode == 2026:
                self.synchronized = on
            elif mode in (47, 1047, 1049):
                self._alt_screen(mode, on)
            elif mode == 1048:
                if on:
                    self.save_cursor()
                else:
                    self.restore_cursor()
            elif mode in (9, 1000, 1001, 1002, 1003, 1005, 1006, 1015):
                if on:
                    self.mouse_modes.add(mode)
                else:
                    self.mouse_modes.discard(mode)
            elif mode == 1004:
                self.focus_events = on

    def _alt_screen(self, mode: int, on: bool) -> None:
        if on == self.alt_active:
            return
        if on:
            if mode == 1049:
                self.save_cursor()
            if self.alt_lines is None or mode != 47:
                self.alt_lines = [Line(self.cols) for _ in range(self.rows)]
            self.lines = self.alt_lines
            self.alt_active = True
        else:
            if mode == 1047 or mode == 1049:
                self.alt_lines = None
            self.lines = self.main_lines
            self.alt_active = False
            if mode == 1049:
                self.restore_cursor()
        self.top, self.bottom = 0, self.rows - 1
        self._all_dirty = True

    def _set_ansi(self, modes: list[int], on: bool) -> None:
        for mode in modes:
            if mode == 4:
                self.insert_mode = on
            elif mode == 20:
                self.newline_mode = on

    # ------------------------------------------------------------------ cursor
    def save_cursor(self) -> None:
        """DECSC: one slot per screen (xterm), not pyte's stack."""
        self._saved[self.alt_active] = (
            self.x, self.y, self.attr, self.origin_mode, self.autowrap,
            self.g0_graphics, self.g1_graphics, self.shifted,
        )

    def restore_cursor(self) -> None:
        saved = self._saved.get(self.alt_active)
        if saved is None:
            self.origin_mode = False
            self.attr = DEFAULT_ATTR
            self.x = self.y = 0
            return
        (self.x, self.y, self.attr, self.origin_mode, self.autowrap,
         self.g0_graphics, self.g1_graphics, self.shifted) = saved
        self._graphics = self.g1_graphics if self.shifted else self.g0_graphics
        self.x = min(self.x, self.cols - 1)
        self.y = min(self.y, self.rows - 1)

    def cursor_position(self, line: int = 1, column: int = 1) -> None:
        y = (line or 1) - 1
        x = (column or 1) - 1
        if self.origin_mode:
            y = min(y + self.top, self.bottom)
        self.y = max(0, min(y, self.rows - 1))
        self.x = max(0, min(x, self.cols - 1))

    def cursor_up(self, n: int = 1) -> None:
        limit = self.top if self.y >= self.top else 0
        self.y = max(limit, self.y - (n or 1))
        self.x = min(self.x, self.cols - 1)

    def cursor_down(self, n: int = 1) -> None:
        limit = self.bottom if self.y <= self.bottom else self.rows - 1
        self.y = min(limit, self.y + (n or 1))
        self.x = min(self.x, self.cols - 1)

    def cursor_back(self, n: int = 1) -> None:
        if self.x >= self.cols:
            self.x = self.cols - 1
        self.x = max(0, self.x - (n or 1))

    def cursor_forward(self, n: int = 1) -> None:
        self.x = min(self.cols - 1, self.x + (n or 1))

    def tab(self, n: int = 1) -> None:
        for _ in range(n or 1):
            stops = [s for s in self.tabstops if s > self.x]
            self.x = min(stops) if stops else self.cols - 1
            if self.x >= self.cols - 1:
                self.x = self.cols - 1
                break

    def back_tab(self, n: int = 1) -> None:
        for _ in range(n or 1):
            stops = [s for s in self.tabstops if s < self.x]
            self.x = max(stops) if stops else 0

    # ------------------------------------------------------------------ scrolling
    def index(self) -> None:
        """IND / LF: down one row, scrolling the region when at its bottom margin."""
        y = self.y
        if y == self.bottom:
            self.scroll_up(1)
        elif y < self.rows - 1:
            self.y = y + 1

    def reverse_index(self) -> None:
        if self.y == self.top:
            self.scroll_down(1)
        elif self.y > 0:
            self.y -= 1

    def scroll_up(self, n: int = 1) -> None:
        """Scroll the region up n lines; lines leaving the top of the main screen go to scrollback."""
        top, bottom = self.top, self.bottom
        n = max(1, min(n, bottom - top + 1))
        lines = self.lines
        blank = self._blank()
        cols = self.cols
        if n == 1:
            gone = lines.pop(top)
            lines.insert(bottom, Line(cols, blank))
            gone_lines = (gone,)
        else:
            gone_lines = lines[top:top + n]
            del lines[top:top + n]
            lines[bottom - n + 1:bottom - n + 1] = [Line(cols, blank) for _ in range(n)]
        if top == 0 and not self.alt_active and self.scrollback_limit:
            self.scrollback.extend(gone_lines)
            self.scrolled_off += n
        if top == 0 and bottom == self.rows - 1:
            self._all_dirty = True
        else:
            self._dirty.update(range(top, bottom + 1))

    def scroll_down(self, n: int = 1) -> None:
        top, bottom = self.top, self.bottom
        n = max(1, min(n, bottom - top + 1))
        lines = self.lines
        del lines[bottom - n + 1:bottom + 1]
        blank = self._blank()
        lines[top:top] = [Line(self.cols, blank) for _ in range(n)]
        if top == 0 and bottom == self.rows - 1:
            self._all_dirty = True
        else:
            self._dirty.update(range(top, bottom + 1))

    def set_margins(self, top: int = 0, bottom: int = 0) -> None:
        t = (top or 1) - 1
        b = (bottom or self.rows) - 1
        t = max(0, min(t, self.rows - 1))
        b = max(0, min(b, self.rows - 1))
        if b - t >= 1:
            self.top, self.bottom = t, b
            self.cursor_position(1, 1)

    def insert_lines(self, n: int = 1) -> None:
        if self.top <= self.y <= self.bottom:
            n = max(1, min(n or 1, self.bottom - self.y + 1))
            lines = self.lines
            del lines[self.bottom - n + 1:self.bottom + 1]
            blank = self._blank()
            lines[self.y:self.y] = [Line(self.cols, blank) for _ in range(n)]
            self._dirty.update(range(self.y, self.bottom + 1))
            self.x = 0

    def delete_lines(self, n: int = 1) -> None:
        if self.top <= self.y <= self.bottom:
            n = max(1, min(n or 1, self.bottom - self.y + 1))
            lines = self.lines
            del lines[self.y:self.y + n]
            blank = self._blank()
            lines[self.bottom - n + 1:self.bottom - n + 1] = [Line(self.cols, blank) for _ in range(n)]
            self._dirty.update(range(self.y, self.bottom + 1))
            self.x = 0

    # ------------------------------------------------------------------ editing
    def _touch(self, y: int) -> Line:
        line = self.lines[y]
        line.pad(self.cols)
        line.cache = None
        self._dirty.add(y)
        return line

    def _fix_wide_edges(self, line: Line, start: int, end: int) -> None:
        """After cells [start, end) were replaced, don't leave half of a wide character behind."""
        chars = line.chars
        if 0 < start < len(chars) and chars[start] == "":
            chars[start - 1] = " "
        if end < len(chars) and chars[end] == "":
            chars[end] = " "

    def insert_characters(self, n: int = 1) -> None:
        n = n or 1
        line = self._touch(self.y)
        x = min(self.x, self.cols - 1)
        self._fix_wide_edges(line, x, x)
        blank = self._blank()
        line.chars[x:x] = [" "] * n
        line.attrs[x:x] = [blank] * n
        del line.chars[self.cols:]
        del line.attrs[self.cols:]
        if line.chars[-1] and wcwidth(line.chars[-1][0]) == 2:
            line.chars[-1] = " "

    def delete_characters(self, n: int = 1) -> None:
        n = n or 1
        line = self._touch(self.y)
        x = min(self.x, self.cols - 1)
        n = min(n, self.cols - x)
        self._fix_wide_edges(line, x, x + n)
        del line.chars[x:x + n]
        del line.attrs[x:x + n]
        line.chars.extend([" "] * n)
        line.attrs.extend([self._blank()] * n)

    def erase_characters(self, n: int = 1) -> None:
        n = n or 1
        line = self._touch(self.y)
        x = min(self.x, self.cols - 1)
        end = min(x + n, self.cols)
        self._fix_wide_edges(line, x, end)
        line.chars[x:end] = [" "] * (end - x)
        line.attrs[x:end] = [self._blank()] * (end - x)

    def repeat_last(self, n: int = 1) -> None:
        if self._last_char:
            self._draw(self._last_char * min(n or 1, self.cols * self.rows))

    def erase_in_line(self, how: int = 0) -> None:
        x = min(self.x, self.cols - 1)
        blank = self._blank()
        if how == 0 and blank is DEFAULT_ATTR:  # the common "clear to end of line": just truncate
            line = self.lines[self.y]
            chars = line.chars
            if x < len(chars):
                if x and chars[x] == "":
                    chars[x - 1] = " "
                del chars[x:]
                del line.attrs[x:]
                line.cache = None
                self._dirty.add(self.y)
            return
        line = self._touch(self.y)
        if how == 0:
            start, end = x, self.cols
        elif how == 1:
            start, end = 0, x + 1
        elif how == 2:
            start, end = 0, self.cols
        else:
            return
        self._fix_wide_edges(line, start, end)
        line.chars[start:end] = [" "] * (end - start)
        line.attrs[start:end] = [blank] * (end - start)

    def erase_in_display(self, how: int = 0) -> None:
        blank = self._blank()
        if how == 0:
            rows = range(self.y + 1, self.rows)
        elif how == 1:
            rows = range(self.y)
        elif how == 2:
            rows = range(self.rows)
        elif how == 3:
            self.scrollback.clear()
            self._all_dirty = True
            return
        else:
            return
        for y in rows:
            self.lines[y] = Line(self.cols, blank)
        self._dirty.update(rows)
        if how in (0, 1):
            self.erase_in_line(how)

    def alignment_display(self) -> None:
        for y in range(self.rows):
            self.lines[y] = line = Line()
            line.chars = ["E"] * self.cols
            line.attrs = [DEFAULT_ATTR] * self.cols
        self._all_dirty = True

    def soft_reset(self) -> None:
        """DECSTR."""
        self.cursor_visible = True
        self.insert_mode = False
        self.origin_mode = False
        self.autowrap = True
        self.app_cursor_keys = False
        self.app_keypad = False
        self.top, self.bottom = 0, self.rows - 1
        self.attr = DEFAULT_ATTR
        self.g0_graphics = self.g1_graphics = self.shifted = self._graphics = False
        self._saved.pop(self.alt_active, None)

    # ------------------------------------------------------------------ size
    def resize(self, cols: int, rows: int) -> None:
        """Change the screen size. Rows are not re-wrapped; when the screen gets shorter, rows above the
        cursor go to scrollback (main screen) so the cursor row stays visible."""
        cols, rows = max(1, cols), max(1, rows)
        if cols == self.cols and rows == self.rows:
            return
        for lines in (self.main_lines, self.alt_lines):
            if lines is None:
                continue
            for line in lines:
                line.resize(cols)
            is_current = lines is self.lines
            if rows < len(lines):
                # drop blank rows below the cursor first, then push rows from the top
                excess = len(lines) - rows
                slot = lines is self.alt_lines  # the screen's DECSC slot (1049 saves the main cursor)
                saved = self._saved.get(slot)
                cursor_y = self.y if is_current else saved[1] if saved else len(lines) - 1
                below = len(lines) - 1 - cursor_y
                cut_bottom = min(excess, below)
                if cut_bottom:
                    del lines[len(lines) - cut_bottom:]
                cut_top = excess - cut_bottom
                if cut_top:
                    if lines is self.main_lines and self.scrollback_limit:
                        self.scrollback.extend(lines[:cut_top])
                        self.scrolled_off += cut_top
                    del lines[:cut_top]
                    if is_current:
                        self.y -= cut_top
                    if saved:
                        self._saved[slot] = (saved[0], max(0, saved[1] - cut_top), *saved[2:])
            elif rows > len(lines):
                lines.extend(Line(cols) for _ in range(rows - len(lines)))
        self.cols, self.rows = cols, rows
        self.top, self.bottom = 0, rows - 1
        self.tabstops = {s for s in self.tabstops if s < cols} | set(range(8, cols, 8))
        self.x = min(self.x, cols - 1)
        self.y = max(0, min(self.y, rows - 1))
        self._all_dirty = True


_EMPTY_LINE = Line(0)


def _csi_args(method, count: int = 1):
    """Adapt a Terminal method taking up to `count` positional CSI parameters."""
    if count == 1:
        return lambda t, a: method(t, a[0])
    return lambda t, a: method(t, *a[:count])


def _dsr(t: Terminal, a: list[int]) -> None:
    if a[0] == 5:
        t._reply("\x1b[0n")
    elif a[0] == 6:
        t._reply(f"\x1b[{t._report_y()};{min(t.x, t.cols - 1) + 1}R")


def _da(t: Terminal, a: list[int]) -> None:
    if a[0] == 0:
        t._reply("\x1b[?62;22c")


def _cha(t: Terminal, a: list[int]) -> None:
    t.x = max(0, min((a[0] or 1) - 1, t.cols - 1))


def _vpa(t: Terminal, a: list[int]) -> None:
    t.cursor_position((a[0] or 1), t.x + 1)


def _cnl(t: Terminal, a: list[int]) -> None:
    t.cursor_down(a[0])
    t.x = 0


def _cpl(t: Terminal, a: list[int]) -> None:
    t.cursor_up(a[0])
    t.x = 0


def _sd(t: Terminal, a: list[int]) -> None:
    if len(a) == 1:  # with 5 parameters this is xterm's mouse highlight tracking
        t.scroll_down(a[0] or 1)


def _tbc(t: Terminal, a: list[int]) -> None:
    if a[0] == 0:
        t.tabstops.discard(min(t.x, t.cols - 1))
    elif a[0] == 3:
        t.tabstops.clear()


_CSI_HANDLERS = {
    "@": _csi_args(Terminal.insert_characters),
    "A": _csi_args(Terminal.cursor_up),
    "B": _csi_args(Terminal.cursor_down),
    "C": _csi_args(Terminal.cursor_forward),
    "D": _csi_args(Terminal.cursor_back),
    "E": _cnl,
    "F": _cpl,
    "G": _cha,
    "H": _csi_args(Terminal.cursor_position, 2),
    "I": _csi_args(Terminal.tab),
    "J": _csi_args(Terminal.erase_in_display),
    "K": _csi_args(Terminal.erase_in_line),
    "L": _csi_args(Terminal.insert_lines),
    "M": _csi_args(Terminal.delete_lines),
    "P": _csi_args(Terminal.delete_characters),
    "S": lambda t, a: t.scroll_up(a[0] or 1),
    "T": _sd,
    "X": _csi_args(Terminal.erase_characters),
    "Z": _csi_args(Terminal.back_tab),
    "`": _cha,
    "a": _csi_args(Terminal.cursor_forward),
    "b": _csi_args(Terminal.repeat_last),
    "c": _da,
    "d": _vpa,
    "e": _csi_args(Terminal.cursor_down),
    "f": _csi_args(Terminal.cursor_position, 2),
    "g": _tbc,
    "h": lambda t, a: t._set_ansi(a, True),
    "l": lambda t, a: t._set_ansi(a, False),
    "n": _dsr,
    "r": _csi_args(Terminal.set_margins, 2),
    "s": lambda t, a: t.save_cursor(),
    "u": lambda t, a: t.restore_cursor(),
}
