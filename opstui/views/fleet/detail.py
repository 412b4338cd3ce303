"""The Fleet's detail pane and what it says about a node: every SSM field, EC2 field and tag, readable.

Nested SSM values arrive as dotted keys (``AssociationOverview.DetailedStatus``, see
:func:`opstui.aws.ssm.flat_fields`) and are drawn as an indented tree of ``key: value`` lines, never as a
Python dict. The text is wrapped here, to the pane's width, so that a long value continues under its own start
(a hanging indent) instead of at the left edge; a key too long to leave room puts its value on the next
lines, indented. Every piece is untrusted text: cleaned (`clean`), appended to a Text, never markup.
"""

from __future__ import annotations

import re

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from opstui.aws.models import FleetNode
from opstui.safe import clean

MIN_VALUE_WIDTH = 20  # a value narrower than this goes on its own lines under the key
_PATH = re.compile(r"\.|(?=\[)")


def _path(key: str) -> list[str]:
    """``A.B[0].C`` -> ``["A", "B", "[0]", "C"]`` (an item index is a level of its own)."""
    return [part for part in _PATH.split(key) if part]


def _wrapped(value: str, width: int) -> list[str]:
    """Word-wrapped to ``width`` cells, long words folded. rich's own line divider (what ``Text.wrap`` uses,
    minus its per-line Text objects: five times faster, and a hostile node has dozens of 2,000-character
    values to wrap on every cursor move)."""
    width = max(width, 1)
    offsets = divide_line(value, width, fold=True)
    return [value[a:b].rstrip(" ") for a, b in zip([0, *offsets], [*offsets, len(value)], strict=True)]


def _pair(text: Text, indent: int, key: str, value: str, width: int) -> None:
    head = " " * indent + key + ": "
    text.append(" " * indent)
    text.append(key + ":", style="cyan")
    if not value:
        text.append("\n")
        return
    room = width - cell_len(head)
    if room >= MIN_VALUE_WIDTH:
        lines, hang = _wrapped(value, room), cell_len(head)
        text.append(" ")
    else:  # a long key: the value below it, indented
        hang = indent + 4
        lines = _wrapped(value, width - hang)
        text.append("\n" + " " * hang)
    text.append(("\n" + " " * hang).join(lines) + "\n")  # one append: each costs a control-code scan


def pairs_text(text: Text, pairs: tuple[tuple[str, str], ...], width: int, indent: int = 2, *,
               tree: bool = False) -> None:
    """``key: value`` lines; with ``tree`` (SSM fields) dotted keys are an indented tree, a heading line per
    new branch (tag keys keep their dots: ``app.kubernetes.io/name`` is one key)."""
    shown: list[str] = []  # the branch the previous line was in
    for raw_key, raw_value in pairs:
        path = [clean(p, 128) for p in (_path(raw_key) if tree else [raw_key])] or [""]
        common = 0
        while common < min(len(shown), len(path) - 1) and shown[common] == path[common]:
            common += 1
        for depth in range(common, len(path) - 1):  # headings of the branches entered
            text.append(" " * (indent + 2 * depth))
            text.append(path[depth] + ":", style="cyan")
            text.append("\n")
        shown = path[:-1]
        _pair(text, indent + 2 * (len(path) - 1), path[-1], clean(raw_value, 2000), width)


def detail_text(node: FleetNode | None, width: int) -> Text:
    """The whole pane for one node, wrapped to ``width`` cells."""
    if node is None:
        return Text("No node under the cursor.")
    text = Text()
    text.append(clean(node.name or node.instance_id, 200) + "\n", style="bold")
    text.append(f"{node.instance_id}  {node.region}\n\n")
    for title, pairs in (("SSM", node.ssm_fields), ("EC2", node.ec2_fields), ("Tags", node.tags)):
        text.append(title + "\n", style="bold underline")
        if not pairs:
            text.append("  (none)\n", style="dim")
        pairs_text(text, pairs, width, tree=title == "SSM")
        text.append("\n")
    return text


class DetailPane(VerticalScroll):
    """Every SSM field, EC2 field and tag of the node under the cursor, as literal text."""

    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    DetailPane { width: 60; border: round $primary-darken-1; border-title-align: left; padding: 0 1; display: none;
                 scrollbar-gutter: stable; }
    DetailPane.-shown { display: block; }
    DetailPane #detail-body { width: 1fr; }
    Screen.-narrow DetailPane { width: 1fr; }
    """

    shown_node: FleetNode | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="detail-body")

    def on_mount(self) -> None:
        self.border_title = Content("Detail")

    def show(self, node: FleetNode | None) -> None:
        """The node's fields as readable lines (`detail.py`), wrapped to the pane's width."""
        self.shown_node = node
        body = self.query_one("#detail-body", Static)
        # the vertical scrollbar's room is kept (scrollbar-gutter: stable): the wrap width does not depend on
        # whether this node's fields overflow
        width = self.content_region.width - self.styles.scrollbar_size_vertical
        body.update(detail_text(node, width if width > 10 else 54))

    def on_resize(self) -> None:
        if self.has_class("-shown"):
            self.show(self.shown_node)  # wrapped for the new width
