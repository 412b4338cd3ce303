"""The one way a tab's header says it could not check something (issue 15: never an all-clear that was not
earned). A header count such as "no failures" is only said after a check that answered in every region; when
a region (or the whole load) failed, the header says "could not check ..." in place, in the warning colour the
Overview uses, and names the regions. The error lines under the tab say why.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

WARN = "bold yellow"  # the Overview's warning colour (views/overview/lines.py)


def unchecked_note(what: str, regions: Sequence[str] = (), *, everything: bool = False) -> Text:
    """``  could not check <what> in <regions>`` (or ``... (see below)`` when nothing answered), as a Text in
    the warning colour; empty when every region answered (``regions`` empty and not ``everything``)."""
    if everything:
        return Text(f"  could not check {what} (see below)", style=WARN)
    if not regions:
        return Text()
    named = ", ".join(regions[:3]) + (f" +{len(regions) - 3} more" if len(regions) > 3 else "")
    return Text(f"  could not check {what} in {named}", style=WARN)
